package rollback

// Predictor guesses a remote player's input for a frame whose real input has
// not arrived yet, from the player's last received input. A session calls it
// once when it starts predicting a player and uses the result for every
// predicted frame until real input arrives; if the real input differs, the
// session rolls back. Predictors must be deterministic (pure functions of
// last), or peers will make different guesses; that only costs rollbacks, never
// correctness.
//
// Before any input of a player has arrived, the prediction is the zero input.
type Predictor[I any] func(last I) I

// RepeatLast is the default Predictor, as in GGPO and GGRS: players tend to
// hold buttons, so the last input is the best guess.
func RepeatLast[I any](last I) I { return last }
