package rollback

// Frame numbers a simulation step. Frames start at 0 and count up by one per
// advanced frame; NullFrame means "no frame".
type Frame int32

// NullFrame is the Frame value meaning "no frame yet" or "none".
const NullFrame Frame = -1

// PlayerHandle identifies a player or spectator within a session. Players use
// handles 0..NumPlayers-1; spectators use handles >= NumPlayers.
type PlayerHandle int
