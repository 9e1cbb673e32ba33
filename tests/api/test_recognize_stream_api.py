"""The WebSocket `/v1/recognize` with the ibm-watson SDK's `recognize_using_websocket` and a plain
WebSocket client, on the fake engine (protocol and shapes; real engines in tests/e2e)."""

from __future__ import annotations

import base64
import io
import json
import wave
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from ibm_cloud_sdk_core.authenticators import BasicAuthenticator
from ibm_watson import SpeechToTextV1
from ibm_watson.websocket import AudioSource, RecognizeCallback
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api.test_recognize_api import CLIP, sdk
from tests.audio.conftest import LIBRIVOX
from tests.conftest import LiveServer, wait_status


class Recorder(RecognizeCallback):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.data: list[dict[str, Any]] = []
        self.transcriptions: list[Any] = []
        self.hypotheses: list[str] = []
        self.errors: list[Any] = []
        self.timeouts: list[str] = []

    def on_connected(self) -> None:
        self.calls.append("connected")

    def on_listening(self) -> None:
        self.calls.append("listening")

    def on_data(self, data: dict[str, Any]) -> None:
        self.data.append(data)

    def on_transcription(self, transcript: Any) -> None:
        self.transcriptions.append(transcript)

    def on_hypothesis(self, hypothesis: str) -> None:
        self.hypotheses.append(hypothesis)

    def on_error(self, error: Any) -> None:
        self.errors.append(error)

    def on_inactivity_timeout(self, error: str) -> None:
        self.timeouts.append(error)

    def on_close(self) -> None:
        self.calls.append("close")


def ws_sdk(server: LiveServer, apikey: str | None = None) -> SpeechToTextV1:
    stt = SpeechToTextV1(authenticator=BasicAuthenticator("apikey", apikey or server.apikey))
    stt.set_service_url(server.url.replace("http://", "ws://"))
    return stt


def stream(server: LiveServer, audio: bytes, apikey: str | None = None, **options: Any) -> Recorder:
    recorder = Recorder()
    ws_sdk(server, apikey).recognize_using_websocket(
        AudioSource(io.BytesIO(audio)), "audio/wav", recorder, **options
    )  # returns when the socket closes
    return recorder


def raw(server: LiveServer, query: str = "") -> Any:
    token = base64.b64encode(f"apikey:{server.apikey}".encode()).decode()
    url = server.url.replace("http://", "ws://") + "/v1/recognize" + query
    return connect(url, additional_headers={"Authorization": f"Basic {token}"})


def test_sdk_stream_gives_the_results_of_post_recognize(fake_server: LiveServer) -> None:
    audio = CLIP.read_bytes()
    recorder = stream(fake_server, audio, timestamps=True, max_alternatives=2)
    assert not recorder.errors and recorder.calls[:2] == ["connected", "listening"] and "close" in recorder.calls
    expected = sdk(fake_server).recognize(audio, content_type="audio/wav", timestamps=True, max_alternatives=2)
    assert recorder.data == [expected.get_result()]
    best, other = {"transcript": "hello world ", "confidence": 0.9}, {"transcript": "hollow world "}
    assert recorder.transcriptions == [[[best, other]]]  # per message, per result, the alternatives


def test_sdk_interim_results_come_before_the_final_ones(fake_server: LiveServer) -> None:
    recorder = stream(fake_server, CLIP.read_bytes(), interim_results=True)
    finals = [d["results"][0]["final"] for d in recorder.data]
    assert finals[-1] is True and finals.count(True) == 1
    assert finals.count(False) >= 1  # ~3 s of audio: an interim result per second of audio
    assert recorder.hypotheses and recorder.transcriptions == [[{"transcript": "hello world ", "confidence": 0.9}]]


# The SDK's sender thread raises when the service closes the socket mid-stream (the inactivity timeout).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sdk_errors(fake_server: LiveServer) -> None:
    audio = CLIP.read_bytes()
    assert stream(fake_server, audio, model="xx-XX_Nothing").errors  # unknown model: error, then closed
    assert stream(fake_server, audio, apikey="not-a-key").errors  # the handshake is refused
    silence = io.BytesIO()
    with wave.open(silence, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\x00\x00" * 16000 * 3)
    timed_out = stream(fake_server, silence.getvalue(), inactivity_timeout=1)
    assert timed_out.timeouts == ["No speech detected for 1s."]
    assert all("closed normally" in str(e) for e in timed_out.errors)  # the SDK reports the close that follows


def test_protocol_details(fake_server: LiveServer) -> None:
    audio = CLIP.read_bytes()
    with raw(fake_server, "?model=en-US_BroadbandModel") as ws:
        ws.send(audio[:1000])  # audio before start is kept for the request
        ws.send(json.dumps({"action": "start", "content-type": "audio/wav"}))
        assert json.loads(ws.recv()) == {"state": "listening"}
        for i in range(1000, len(audio), 8192):
            ws.send(audio[i : i + 8192])
        ws.send(b"")  # an empty binary frame ends the request like stop
        first = json.loads(ws.recv())
        assert first["results"][0]["alternatives"][0]["transcript"] == "hello world "
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(audio)  # the same options serve the next request on the connection
        ws.send(json.dumps({"action": "stop"}))
        assert json.loads(ws.recv()) == first
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(json.dumps({"action": "stop"}))  # nothing sent: no results
        assert json.loads(ws.recv()) == {"result_index": 0, "results": []}

    for message, code in (("not json", 1002), (json.dumps({"action": "dance"}), 1002)):
        with raw(fake_server) as ws:
            ws.send(message)
            assert "error" in json.loads(ws.recv())
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
            assert closed.value.rcvd.code == code
    with raw(fake_server) as ws:
        ws.send(json.dumps({"action": "start", "content_type": "audio/wav", "max_alternatives": -3}))
        assert "max_alternatives" in json.loads(ws.recv())["error"]
    with raw(fake_server) as ws:
        ws.send(json.dumps({"action": "start", "content_type": "audio/wav"}))
        ws.recv()
        ws.send(b"\x00" * (4 * 1024 * 1024 + 1))
        assert "at most" in json.loads(ws.recv())["error"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 1009


def test_inactivity_timeout_while_audio_still_arrives(fake_server: LiveServer) -> None:
    """A microphone left open: speech, then silence, and no stop. The timeout ends the connection."""
    with wave.open(str(CLIP)) as w:
        speech = w.readframes(w.getnframes())  # ~3 s, streamed as raw PCM as a microphone would
    start = json.dumps({"action": "start", "content-type": "audio/l16;rate=16000", "inactivity_timeout": 2})
    with raw(fake_server) as ws:
        ws.send(start)
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(speech)
        for _ in range(12):  # then 6 s of digital silence in 0.5 s frames
            ws.send(b"\x00\x00" * 8000)
        assert json.loads(ws.recv()) == {"error": "No speech detected for 2s."}
        with pytest.raises(ConnectionClosed):
            ws.recv()
    with raw(fake_server) as ws:  # a pause under the timeout does not end it
        ws.send(start)
        ws.recv()
        ws.send(speech)
        ws.send(b"\x00\x00" * 16000)
        ws.send(json.dumps({"action": "stop"}))
        assert json.loads(ws.recv())["results"]


def assert_closed_with(ws: Any, code: int, needle: str = "") -> None:
    """The service sent Watson's `{"error": ...}`, then a close frame with `code`."""
    message = json.loads(ws.recv())
    assert set(message) == {"error"} and needle in message["error"], message
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def test_interim_results_resolve_the_custom_model_once(
    fake_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stt = sdk(fake_server)
    cid = stt.create_language_model("finance", "en-US_BroadbandModel").get_result()["customization_id"]
    stt.add_corpus(cid, "c1", b"the zzquux rate")
    wait_status(stt, cid, {"ready"})
    stt.train_language_model(cid)
    wait_status(stt, cid, {"available"})
    assert fake_server.services is not None
    resolver = fake_server.services.recognition.customs
    calls: list[str | None] = []
    resolve = resolver.resolve  # type: ignore[union-attr]
    monkeypatch.setattr(
        resolver, "resolve", lambda owner, params, base: calls.append(params.custom_id) or resolve(owner, params, base)
    )
    recorder = stream(fake_server, CLIP.read_bytes(), interim_results=True, language_customization_id=cid)
    assert not recorder.errors and recorder.hypotheses  # interim results came
    assert sum(not r["final"] for d in recorder.data for r in d["results"]) >= 1  # one per new text
    assert calls == [cid]  # prepared at the start message, reused by every interim run and the final one


def test_session_states(fake_server: LiveServer) -> None:
    audio = CLIP.read_bytes()
    start = {"action": "start", "content-type": "audio/wav"}
    with raw(fake_server) as ws:  # stop is not legal before start
        ws.send(json.dumps({"action": "stop"}))
        assert_closed_with(ws, 1002, "start")
    with raw(fake_server) as ws:  # a start between requests changes the options
        ws.send(json.dumps(start))
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(json.dumps({**start, "max_alternatives": 2}))
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(audio)
        ws.send(json.dumps({"action": "stop"}))
        assert len(json.loads(ws.recv())["results"][0]["alternatives"]) == 2
        assert json.loads(ws.recv()) == {"state": "listening"}
        ws.send(audio[:5000])  # but not in the middle of a request
        ws.send(json.dumps(start))
        assert_closed_with(ws, 1002, "send stop first")


DEEP_OPTION = '{"action": "start", "x": ' + "[" * 65 + "]" * 65 + "}"
BAD_FRAMES = [
    pytest.param("[" * 100000, 1002, "nested more than 64", id="deep-array"),
    pytest.param(DEEP_OPTION, 1002, "nested more than 64", id="deep-option"),
    pytest.param('{"action": "start", "max_alternatives": ' + "1" * 5000 + "}", 1002, "not valid", id="5000-digits"),
    pytest.param("[1, 2]", 1002, "JSON object", id="not-an-object"),
    pytest.param(json.dumps({"part_content_type": 5}), 1002, "Unknown action None", id="no-action"),
    pytest.param(json.dumps({"action": {"start": 1}}), 1002, "Unknown action", id="action-object"),
    pytest.param(json.dumps({"action": "start", "content-type": 5}), 1008, "content-type", id="content-type-int"),
    pytest.param(json.dumps({"action": "start", "content_type": ["a"]}), 1008, "content_type", id="content_type-list"),
    pytest.param(json.dumps({"action": "start", "interim_results": "maybe"}), 1008, "interim_results", id="interim"),
    pytest.param(json.dumps({"action": "start", "keywords": 5, "keywords_threshold": 0.5}), 1008, "keywords", id="kw"),
    pytest.param(json.dumps({"action": "start", "max_alternatives": 10**20}), 1008, "max_alternatives", id="10**20"),
    pytest.param('{"action": "start", "inactivity_timeout": 1e400}', 1008, "inactivity_timeout", id="1e400"),
    pytest.param('{"action": "start", "end_of_phrase_silence_time": NaN}', 1008, "end_of_phrase", id="NaN"),
    pytest.param(json.dumps({"action": "start", "model": "xx-XX_Nothing"}), 1008, "xx-XX_Nothing", id="model"),
]


@pytest.mark.parametrize(("frame", "code", "needle"), BAD_FRAMES)
def test_bad_frames_get_an_error_then_a_close_frame(
    fake_server: LiveServer, frame: str, code: int, needle: str
) -> None:
    with raw(fake_server) as ws:
        ws.send(frame)
        assert_closed_with(ws, code, needle)


def test_connection_limit(fake_server: LiveServer) -> None:
    assert fake_server.services is not None
    fake_server.services.settings.ws_max_connections = 2
    with raw(fake_server) as first, raw(fake_server) as second:
        with raw(fake_server) as third:
            assert_closed_with(third, 1013, "too many streaming recognition connections")
        for ws in (first, second):  # the open ones still work
            ws.send(json.dumps({"action": "start", "content-type": "audio/wav"}))
            assert json.loads(ws.recv()) == {"state": "listening"}
    with raw(fake_server) as again:  # closed connections free their places
        again.send(json.dumps({"action": "start", "content-type": "audio/wav"}))
        assert json.loads(again.recv()) == {"state": "listening"}


def test_global_cap_on_buffered_audio(fake_server: LiveServer) -> None:
    assert fake_server.services is not None
    cap = fake_server.services.settings.ws_max_buffered_bytes = 150_000
    audio = CLIP.read_bytes()
    assert cap / 2 < len(audio) < cap
    start, stop = json.dumps({"action": "start", "content-type": "audio/wav"}), json.dumps({"action": "stop"})
    with raw(fake_server) as holder:
        holder.send(audio)  # held before start, within the cap
        with raw(fake_server) as other:
            other.send(audio)  # together past the cap: refused, the holder keeps its audio
            assert_closed_with(other, 1013, "too much audio")
        holder.send(start)
        assert json.loads(holder.recv()) == {"state": "listening"}
        holder.send(stop)
        assert json.loads(holder.recv())["results"]
        assert json.loads(holder.recv()) == {"state": "listening"}
        with raw(fake_server) as other:  # recognized audio no longer counts
            other.send(start)
            other.recv()
            other.send(audio)
            other.send(stop)
            assert json.loads(other.recv())["results"]


def test_idle_connections_are_closed(fake_server: LiveServer) -> None:
    assert fake_server.services is not None
    fake_server.services.settings.ws_idle_timeout_seconds = 0.5
    with raw(fake_server) as ws:
        ws.send(json.dumps({"action": "start", "content-type": "audio/wav"}))
        assert json.loads(ws.recv()) == {"state": "listening"}
        assert_closed_with(ws, 1008, "Session timed out")


def test_long_stream_gets_each_phrase_final_as_it_ends_and_interims_throughout(fake_server: LiveServer) -> None:
    """Over 100 s of phrases: each final with the next result_index before stop, interim results (of the phrase
    in progress only) long after the first 30 s, and the phrases those of `recognize`."""
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(LIBRIVOX.glob("*.wav"))]
    pause = np.zeros(24000, dtype=np.float32)
    audio = np.concatenate([x for clip in clips * 3 for x in (clip, pause)])
    pcm = (audio * 20000).astype("<i2").tobytes()
    half, frame = len(pcm) // 2 // 16000 * 16000, 16000
    with raw(fake_server) as ws:
        start = {"action": "start", "content-type": "audio/l16;rate=16000", "interim_results": True, "timestamps": True}
        ws.send(json.dumps(start))
        assert json.loads(ws.recv()) == {"state": "listening"}
        for at in range(0, half, frame):
            ws.send(pcm[at : at + frame])
        early = json.loads(ws.recv(timeout=30))  # before the rest of the audio and stop: a result already
        for at in range(half, len(pcm), frame):
            ws.send(pcm[at : at + frame])
        ws.send(json.dumps({"action": "stop"}))
        messages = [early]
        while (message := json.loads(ws.recv(timeout=30))) != {"state": "listening"}:
            messages.append(message)
    finals = [m for m in messages if m["results"][0]["final"]]
    assert [m["result_index"] for m in finals] == list(range(len(finals)))
    expected = sdk(fake_server).recognize(pcm, content_type="audio/l16;rate=16000", timestamps=True).get_result()
    assert [m["results"][0] for m in finals] == expected["results"] and len(finals) >= 10
    interim_starts = [m["results"][0]["alternatives"][0]["timestamps"][0][1] for m in messages if m not in finals]
    assert max(interim_starts) > 60
