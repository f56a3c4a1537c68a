// A matchbox_socket browser client in plain JavaScript, driven by
// TestBrowserInterop. It joins a room on the signalling server and connects
// to every peer there the way matchbox_socket's wasm client does: the peer
// that gets NewPeer makes the offer and the newcomer answers; ICE candidates
// travel as JSON strings holding JSON, with "null" at the end; channel 0 is
// negotiated id 0 "matchbox_socket_0" (unordered, maxRetransmits 0) and
// channel 1 is negotiated id 1 "matchbox_socket_1" (reliable, ordered). Once
// both channels are open it sends packets on them and reports to the test
// what came back. Reports are POSTed to /event as JSON.
//
// Query parameters:
//   signal  the room URL on the signalling server
//   run     a token sent back with every report, so the test can tell runs apart
//   n       how many packets to send on each channel
//   gather  "wait": send the offer or answer once ICE gathering is complete,
//           as matchbox's wasm client does (the candidates ride in the SDP);
//           "trickle": send it at once, then every candidate and "null".
//           (In the test's network namespace Chromium gathers no candidate
//           it signals: pion learns its address from its ICE checks.)
'use strict';

const query = new URLSearchParams(location.search);
const signalURL = query.get('signal');
const run = query.get('run');
const count = Number(query.get('n'));
const waitForGathering = query.get('gather') === 'wait';

// How long to wait for the last unreliable echoes once every reliable echo
// is back: unreliable packets that are still missing then are lost.
const unreliableGraceMs = 2000;
// When to report whatever came back if the reliable echoes never complete,
// so that the test can say what is missing (it waits longer than this).
const resultDeadlineMs = 10000;

// matchbox's ChannelConfig::unreliable() and ::reliable(), in that order.
const channelConfigs = [
  {negotiated: true, id: 0, ordered: false, maxRetransmits: 0},
  {negotiated: true, id: 1, ordered: true},
];

// payload is packet i of channel ch. It is printable because meshcat prints
// what it receives; its size varies, and on the reliable channel some
// packets span many SCTP chunks. Keep in step with payload in the Go test.
function payload(ch, i) {
  const head = `rollbox c${ch} #${i} `;
  const size = ch === 1 && i % 50 === 7 ? 20000 : 16 + (i * 37) % 1100;
  return head + 'x'.repeat(Math.max(0, size - head.length));
}

// Reports go one after another so that the test reads them in order.
let reports = Promise.resolve();
function report(type, fields) {
  const body = JSON.stringify({run, type, ...fields});
  reports = reports.then(() => fetch('/event', {method: 'POST', body})).catch(() => {});
}
function log(message) {
  report('log', {message});
}
function fail(err) {
  report('error', {message: String((err && err.stack) || err)});
}
window.addEventListener('error', (e) => fail(e.error || e.message));
window.addEventListener('unhandledrejection', (e) => fail(e.reason));

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function gatheringComplete(pc) {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
    check();
  });
}

let ws = null;
let myId = null;
const peers = new Map();

function signal(receiver, data) {
  ws.send(JSON.stringify({Signal: {receiver, data}}));
}

// Peer is the connection to one other member of the room.
class Peer {
  constructor(id, offerer) {
    this.id = id;
    this.offerer = offerer;
    this.pc = new RTCPeerConnection({iceServers: []});
    // Signals from this peer are handled one at a time, in arrival order,
    // though handling one takes several awaits.
    this.steps = Promise.resolve();
    this.remoteDescribed = false;
    this.remoteEarly = []; // candidates that came before the offer or answer
    this.described = false;
    this.localEarly = []; // our candidates gathered before our offer or answer went out
    this.gathered = 0; // our candidates, signalled or not
    this.candidates = 0;
    this.endOfCandidates = false;
    this.received = [[], []];
    this.bad = 0;
    this.graceTimer = null;
    this.reported = false;
    this.pc.onicecandidate = (e) => this.localCandidate(e.candidate);
    this.pc.onconnectionstatechange = () => log(`${this.id}: connection ${this.pc.connectionState}`);
    let open = 0;
    this.channels = channelConfigs.map((cfg, ch) => {
      const dc = this.pc.createDataChannel(`matchbox_socket_${ch}`, cfg);
      dc.binaryType = 'arraybuffer';
      dc.onopen = () => {
        if (++open === channelConfigs.length) this.start();
      };
      dc.onmessage = (e) => this.receive(ch, e.data);
      dc.onclose = () => log(`${this.id}: channel ${ch} closed`);
      return dc;
    });
  }

  step(fn) {
    this.steps = this.steps.then(fn).catch(fail);
  }

  localCandidate(candidate) {
    const text = candidate ? JSON.stringify(candidate.toJSON()) : 'null';
    if (candidate) this.gathered++;
    if (this.described) {
      signal(this.id, {IceCandidate: text});
    } else if (!waitForGathering) {
      this.localEarly.push(text);
    }
    // When waiting for gathering, earlier candidates are in the SDP.
  }

  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.describe();
  }

  async describe() {
    if (waitForGathering) await gatheringComplete(this.pc);
    const sdp = this.pc.localDescription.sdp;
    signal(this.id, this.offerer ? {Offer: sdp} : {Answer: sdp});
    this.described = true;
    for (const text of this.localEarly) signal(this.id, {IceCandidate: text});
    this.localEarly = [];
  }

  async onSignal(data) {
    if (data === null || typeof data !== 'object') {
      throw new Error(`signal data is not an object: ${JSON.stringify(data)}`);
    }
    if ('Offer' in data) {
      if (this.offerer || this.remoteDescribed) throw new Error(`unexpected offer from ${this.id}`);
      await this.setRemote({type: 'offer', sdp: data.Offer});
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await this.describe();
    } else if ('Answer' in data) {
      if (!this.offerer || this.remoteDescribed) throw new Error(`unexpected answer from ${this.id}`);
      await this.setRemote({type: 'answer', sdp: data.Answer});
    } else if ('IceCandidate' in data) {
      // The candidate is double-encoded: a JSON string whose text is JSON.
      if (typeof data.IceCandidate !== 'string') {
        throw new Error(`IceCandidate is not a JSON string: ${JSON.stringify(data.IceCandidate)}`);
      }
      if (this.remoteDescribed) {
        await this.addCandidate(data.IceCandidate);
      } else {
        this.remoteEarly.push(data.IceCandidate);
      }
    } else {
      throw new Error(`unknown signal: ${JSON.stringify(data)}`);
    }
  }

  async setRemote(desc) {
    await this.pc.setRemoteDescription(desc);
    this.remoteDescribed = true;
    for (const text of this.remoteEarly) await this.addCandidate(text);
    this.remoteEarly = [];
  }

  // addCandidate fails the run where matchbox's client would panic or warn:
  // every candidate our transport sends must parse and be accepted.
  async addCandidate(text) {
    const init = JSON.parse(text);
    if (init === null) {
      this.endOfCandidates = true;
      await this.pc.addIceCandidate();
      return;
    }
    this.candidates++;
    await this.pc.addIceCandidate(init);
  }

  start() {
    report('connected', {
      peer: this.id,
      role: this.offerer ? 'offerer' : 'answerer',
      // The channels as Chromium set them up.
      channels: this.channels.map((dc) => ({
        label: dc.label,
        id: dc.id,
        negotiated: dc.negotiated,
        ordered: dc.ordered,
        maxRetransmits: dc.maxRetransmits,
      })),
    });
    setTimeout(() => this.finish(), resultDeadlineMs);
    for (let ch = 0; ch < this.channels.length; ch++) {
      for (let i = 0; i < count; i++) this.channels[ch].send(encoder.encode(payload(ch, i)));
    }
  }

  receive(ch, data) {
    if (!(data instanceof ArrayBuffer)) {
      fail(`channel ${ch}: a text message, want binary as matchbox sends`);
      return;
    }
    const text = decoder.decode(data);
    const m = /^rollbox c(\d) #(\d+) /.exec(text);
    if (m && Number(m[1]) === ch && text === payload(ch, Number(m[2]))) {
      this.received[ch].push(Number(m[2]));
    } else {
      this.bad++;
    }
    if (this.received[1].length === count && !this.graceTimer) {
      this.graceTimer = setTimeout(() => this.finish(), unreliableGraceMs);
    }
    if (this.received[1].length === count && this.received[0].length >= count) this.finish();
  }

  finish() {
    if (this.reported) return;
    this.reported = true;
    clearTimeout(this.graceTimer);
    report('result', {
      peer: this.id,
      unreliable: this.received[0],
      reliable: this.received[1],
      bad: this.bad,
      candidates: this.candidates,
      gathered: this.gathered,
      endOfCandidates: this.endOfCandidates,
    });
  }
}

function handle(msg) {
  if (myId === null) {
    if (msg === null || typeof msg.IdAssigned !== 'string') {
      throw new Error(`first frame is not IdAssigned: ${JSON.stringify(msg)}`);
    }
    myId = msg.IdAssigned;
    report('joined', {id: myId});
    return;
  }
  if (msg === null || typeof msg !== 'object') {
    log(`ignoring frame ${JSON.stringify(msg)}`);
  } else if ('IdAssigned' in msg) {
    throw new Error('second IdAssigned'); // matchbox's client panics
  } else if (typeof msg.NewPeer === 'string') {
    const p = new Peer(msg.NewPeer, true);
    peers.set(p.id, p);
    p.step(() => p.offer());
  } else if (msg.Signal && typeof msg.Signal.sender === 'string') {
    const {sender, data} = msg.Signal;
    let p = peers.get(sender);
    if (!p) {
      // A signal from a stranger starts a handshake we accept.
      p = new Peer(sender, false);
      peers.set(sender, p);
    }
    p.step(() => p.onSignal(data));
  } else if (typeof msg.PeerLeft === 'string') {
    report('peerleft', {peer: msg.PeerLeft});
    const p = peers.get(msg.PeerLeft);
    if (p) {
      p.pc.close();
      peers.delete(msg.PeerLeft);
    }
  } else {
    log(`ignoring frame ${JSON.stringify(msg)}`);
  }
}

ws = new WebSocket(signalURL);
ws.onopen = () => setInterval(() => ws.send('"KeepAlive"'), 10000);
ws.onerror = () => fail('signalling WebSocket error');
ws.onclose = (e) => log(`signalling closed: ${e.code} ${e.reason}`);
ws.onmessage = (e) => {
  let msg;
  try {
    msg = JSON.parse(e.data);
  } catch (err) {
    log(`ignoring unparsable frame: ${err}`);
    return;
  }
  try {
    handle(msg);
  } catch (err) {
    fail(err);
  }
};
