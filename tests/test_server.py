"""`mlx-embed serve`: the official openai client against the running server (loopback only), TEI's /embed,
4xx for every kind of bad input, the OpenAPI schema, the bind/API-key policy, dynamic batching and
back-pressure, and a bounded load test with flat memory."""

from __future__ import annotations

import base64
import http.client
import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mlx_embed
from mlx_embed.cli import build_parser, main
from mlx_embed.errors import InvalidArgumentError
from mlx_embed.server import BackgroundServer, ServerSettings, check_bind, create_app, is_loopback
from mlx_embed.server.loadtest import run_load, sentence

openai = pytest.importorskip("openai")

TEXTS = ["hello world", "Mars is often referred to as the Red Planet.", "Le renard brun rapide",
         "敏捷的棕色狐狸跳过了懒狗。", "def encode(texts): return model.embed(texts) " * 8]
KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def model(jina_tiny):
    return mlx_embed.load(jina_tiny)


@pytest.fixture(scope="module")
def server(model):
    with BackgroundServer(create_app(model, ServerSettings(accept_token_ids=True))) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def call(url: str, method: str, path: str, body: bytes | str | dict | list | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict | list | None, dict[str, str]]:
    """One raw HTTP request (any bytes, any headers); returns status, parsed JSON body, headers."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=60)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw else None, {k.lower(): v for k, v in resp.getheaders()}


def as_array(response) -> np.ndarray:
    return np.array([d.embedding for d in sorted(response.data, key=lambda d: d.index)], dtype=np.float32)


# --- the official openai client ---------------------------------------------------------------------
def test_openai_client_gets_the_same_vectors_as_encode(model, client):
    expected = model.encode(TEXTS)
    base64_default = client.embeddings.create(model=model.name, input=TEXTS)  # the client asks for base64
    floats = client.embeddings.create(model=model.name, input=TEXTS, encoding_format="float")
    for response in (base64_default, floats):
        assert [d.index for d in response.data] == list(range(len(TEXTS)))
        np.testing.assert_allclose(as_array(response), expected, atol=2e-5)
    single = client.embeddings.create(model=model.name, input=TEXTS[1], encoding_format="float")
    assert len(single.data) == 1
    np.testing.assert_allclose(single.data[0].embedding, expected[1], atol=2e-5)
    prefix = model.prompts[model.default_prompt_name]
    tokens = sum(model.tokenizer.count_tokens([prefix + t for t in TEXTS]))
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == tokens
    assert floats.model == model.name


def test_base64_is_little_endian_float32(model, server):
    status, body, _ = call(server.url, "POST", "/v1/embeddings", {"input": TEXTS[:2], "encoding_format": "base64"})
    assert status == 200
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]])
    np.testing.assert_allclose(decoded, model.encode(TEXTS[:2]), atol=2e-5)


def test_dimensions_is_matryoshka(model, client):
    response = client.embeddings.create(model=model.name, input=TEXTS, dimensions=16, encoding_format="float")
    vectors = as_array(response)
    assert vectors.shape == (len(TEXTS), 16)
    np.testing.assert_allclose(vectors, model.encode(TEXTS, truncate_dim=16), atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_task_by_model_suffix_or_task_field(model, client):
    listed = [m.id for m in client.models.list()]
    assert listed[0] == model.name.split("/")[-1]
    seen = {}
    for task in model.tasks:
        by_suffix = as_array(client.embeddings.create(model=f"{listed[0]}-{task}", input=TEXTS))
        by_field = as_array(client.embeddings.create(model=listed[0], input=TEXTS, extra_body={"task": task}))
        expected = model.encode(TEXTS, task=task)
        np.testing.assert_allclose(by_suffix, expected, atol=2e-5)
        np.testing.assert_allclose(by_field, expected, atol=2e-5)
        assert f"{listed[0]}-{task}" in listed
        seen[task] = by_suffix
    tasks = list(seen)
    assert all(not np.allclose(seen[a], seen[b], atol=1e-3) for a in tasks for b in tasks if a < b)
    assert client.models.retrieve(f"{listed[0]}-clustering").id == f"{listed[0]}-clustering"


def test_prompt_name_and_token_arrays(model, client):
    query = as_array(client.embeddings.create(model=model.name, input=TEXTS, extra_body={"prompt_name": "query"}))
    np.testing.assert_allclose(query, model.encode(TEXTS, prompt_name="query"), atol=2e-5)
    ids = model.tokenizer.encode(TEXTS[:3], model.max_length)
    by_ids = as_array(client.embeddings.create(model=model.name, input=ids, encoding_format="float"))
    raw = model.embed_token_ids(ids, model.default_task)
    np.testing.assert_allclose(by_ids, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=2e-5)
    one = as_array(client.embeddings.create(model=model.name, input=ids[0], encoding_format="float"))
    np.testing.assert_allclose(one[0], by_ids[0], atol=2e-5)


def test_openai_client_raises_typed_errors(model, client):
    with pytest.raises(openai.BadRequestError, match="empty"):
        client.embeddings.create(model=model.name, input=[])
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model=model.name, input="hi", dimensions=model.dim + 1)


# --- model ids that are not listed ------------------------------------------------------------------
UNLISTED = [("text-embedding-3-small", None), ("default", None), ("Qwen/Qwen3-Embedding-0.6B", None),
            ("jina-embeddings-v5-text-small-summarize", None), ("my-embedder-clustering", "clustering"),
            ("someone/jina-v5-mlx-text-matching", "text-matching")]


@pytest.mark.parametrize("name, suffix", UNLISTED, ids=[n for n, _ in UNLISTED])
def test_any_model_id_is_served_by_the_one_model(model, client, name, suffix):
    task = suffix or model.default_task
    response = client.embeddings.create(model=name, input=TEXTS[:2], encoding_format="float")
    np.testing.assert_allclose(as_array(response), model.encode(TEXTS[:2], task=task), atol=2e-5)
    served = [m.id for m in client.models.list()][0]
    assert response.model == f"{served}-{task}"  # what really answered, not the name sent
    assert client.models.retrieve(name).id == f"{served}-{task}"


def test_strict_model_keeps_the_404(model):
    settings = ServerSettings(strict_model=True)
    with BackgroundServer(create_app(model, settings)) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
        for name in ("text-embedding-3-small", "jina-embeddings-v5-text-small-summarize"):
            with pytest.raises(openai.NotFoundError, match="not served here.*--strict-model"):
                client.embeddings.create(model=name, input="hi")
            status, reply, _ = call(srv.url, "POST", "/v1/embeddings", {"input": "a", "model": name})
            assert (status, reply["error"]["code"], reply["error"]["param"]) == (404, "model_not_found", "model")
        listed = client.embeddings.create(model="jina-embeddings-v5-text-small-clustering", input="hi")
        assert listed.model == "jina-embeddings-v5-text-small-clustering"
        assert call(srv.url, "GET", "/v1/models/nope")[0] == 404
    args = build_parser().parse_args(["serve", "--strict-model"])
    assert args.strict_model is True and build_parser().parse_args(["serve"]).strict_model is False


# --- TEI's /embed ------------------------------------------------------------------------------------
def test_tei_embed(model, server):
    status, body, _ = call(server.url, "POST", "/embed", {"inputs": TEXTS})
    assert status == 200
    np.testing.assert_allclose(np.array(body), model.encode(TEXTS), atol=2e-5)
    status, body, _ = call(server.url, "POST", "/embed", {"inputs": TEXTS[0], "normalize": False,
                                                           "prompt_name": "query", "task": "clustering"})
    assert status == 200
    np.testing.assert_allclose(body[0], model.encode(TEXTS[0], prompt_name="query", task="clustering",
                                                     normalize_embeddings=False), rtol=1e-4, atol=2e-5)
    status, body, _ = call(server.url, "POST", "/embed", {"inputs": TEXTS[:2], "dimensions": 8})
    assert status == 200 and np.array(body).shape == (2, 8)


def test_tei_truncate(jina_tiny):
    model = mlx_embed.load(jina_tiny)
    model.profile.max_length = 256  # a short context keeps the long input cheap
    long = "Mars is red. " * 300  # ~ 1000 tokens
    with BackgroundServer(create_app(model)) as srv:
        status, body, _ = call(srv.url, "POST", "/embed", {"inputs": ["short", long]})
        assert status == 413 and body["error"]["code"] == "context_length_exceeded", body
        assert "inputs[1]" in body["error"]["message"]
        status, body, _ = call(srv.url, "POST", "/embed", {"inputs": [long], "truncate": True})
        assert status == 200
        np.testing.assert_allclose(body[0], model.encode(long), atol=2e-5)
        status, body, _ = call(srv.url, "POST", "/v1/embeddings", {"input": long, "truncate": False})
        assert status == 400 and body["error"]["code"] == "context_length_exceeded"
        status, body, _ = call(srv.url, "POST", "/v1/embeddings", {"input": long, "encoding_format": "float"})
        assert status == 200 and body["usage"]["prompt_tokens"] == 256
        np.testing.assert_allclose(body["data"][0]["embedding"], model.encode(long), atol=2e-5)


# --- bad input: always the right 4xx, never a 500 -----------------------------------------------------
BAD_REQUESTS = [
    ("malformed JSON", "/v1/embeddings", b'{"input": ["a", ', 400, "invalid_json"),
    ("truncated JSON", "/embed", b'{"inputs": "a"', 400, "invalid_json"),
    ("not an object", "/v1/embeddings", b'["a", "b"]', 400, "invalid_request"),
    ("no body", "/v1/embeddings", b"", 400, "invalid_json"),
    ("empty string", "/v1/embeddings", {"input": ""}, 400, "empty_input"),
    ("empty list", "/v1/embeddings", {"input": []}, 400, "empty_input"),
    ("empty string in list", "/v1/embeddings", {"input": ["a", ""]}, 400, "empty_input"),
    ("empty token array", "/v1/embeddings", {"input": [[1, 2], []]}, 400, "empty_input"),
    ("missing input", "/v1/embeddings", {"model": "x"}, 400, "missing_field"),
    ("10k inputs", "/v1/embeddings", {"input": ["text"] * 10_000}, 400, "too_many_inputs"),
    ("10k inputs TEI", "/embed", {"inputs": ["text"] * 10_000}, 400, "too_many_inputs"),
    ("1 MB string", "/v1/embeddings", {"input": "x" * (1 << 20)}, 400, "input_too_long"),
    ("1 MB string TEI", "/embed", {"inputs": ["ok", "y" * (1 << 20)]}, 400, "input_too_long"),
    ("input is a number", "/v1/embeddings", {"input": 5}, 400, "invalid_type"),
    ("input is an object", "/v1/embeddings", {"input": {"text": "a"}}, 400, "invalid_type"),
    ("mixed list", "/v1/embeddings", {"input": ["a", 1]}, 400, "invalid_type"),
    ("float token ids", "/v1/embeddings", {"input": [1.0, 2.0]}, 400, "invalid_type"),
    ("token id out of range", "/v1/embeddings", {"input": [10**9]}, 400, "invalid_token_id"),
    ("negative token id", "/v1/embeddings", {"input": [[3, -1]]}, 400, "invalid_token_id"),
    ("model is a number", "/v1/embeddings", {"input": "a", "model": 5}, 400, "invalid_type"),
    ("dimensions is a string", "/v1/embeddings", {"input": "a", "dimensions": "8"}, 400, "invalid_type"),
    ("dimensions is a bool", "/v1/embeddings", {"input": "a", "dimensions": True}, 400, "invalid_type"),
    ("dimensions zero", "/v1/embeddings", {"input": "a", "dimensions": 0}, 400, "invalid_dimensions"),
    ("dimensions too big", "/embed", {"inputs": "a", "dimensions": 100000}, 400, "invalid_dimensions"),
    ("encoding_format", "/v1/embeddings", {"input": "a", "encoding_format": "hex"}, 400, "invalid_type"),
    ("normalize is a string", "/embed", {"inputs": "a", "normalize": "yes"}, 400, "invalid_type"),
    ("truncation_direction left", "/embed", {"inputs": "a", "truncation_direction": "Left"}, 400, "invalid_type"),
    ("unknown task", "/v1/embeddings", {"input": "a", "task": "summarize"}, 400, "invalid_task"),
    ("conflicting task", "/v1/embeddings", {"input": "a", "model": "jina-embeddings-v5-text-small-clustering",
                                            "task": "retrieval"}, 400, "conflicting_task"),
    ("unknown prompt", "/embed", {"inputs": "a", "prompt_name": "nope"}, 400, "invalid_prompt_name"),
    ("null input", "/v1/embeddings", {"input": None}, 400, "invalid_type"),
    ("nulls elsewhere are defaults", "/v1/embeddings", {"input": "a", "model": None, "dimensions": None,
                                                        "encoding_format": None, "truncate": None}, 200, None),
]


@pytest.mark.parametrize("path, body, status, code", [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_get_a_clear_4xx(server, path, body, status, code):
    got, reply, _ = call(server.url, "POST", path, body)
    if status == 200:
        assert got == 200 and len(reply["data"][0]["embedding"]) > 0
        return
    assert (got, reply["error"]["code"]) == (status, code), reply
    error = reply["error"]
    assert set(error) == {"message", "type", "param", "code"} and len(error["message"]) > 10
    assert error["type"] == ("invalid_request_error" if status in (400, 404, 413) else error["type"])


def test_transport_level_errors(server):
    status, reply, _ = call(server.url, "POST", "/v1/embeddings", "input=a",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and reply["error"]["code"] == "invalid_content_type"
    status, reply, _ = call(server.url, "GET", "/v1/embeddings")
    assert status == 405 and reply["error"]["code"] == "method_not_allowed"
    status, reply, _ = call(server.url, "GET", "/v2/nothing")
    assert status == 404 and reply["error"]["code"] == "not_found"
    # a body announced as 20 MB is refused before it is read
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/v1/embeddings")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(20 << 20))
    conn.endheaders(b'{"input": "')
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["code"] == "request_too_large"
    conn.close()
    status, reply, _ = call(server.url, "GET", "/health")
    assert status == 200 and reply["status"] == "ok"


def test_streamed_body_over_the_limit_is_413(model):
    app = create_app(model, ServerSettings(max_request_bytes=64 << 10))
    with BackgroundServer(app) as srv:
        conn = http.client.HTTPConnection(srv.url.removeprefix("http://"), timeout=30)
        body = json.dumps({"input": ["word " * 1000] * 20}).encode()  # ~100 KB, chunked: no Content-Length
        try:  # one chunk: written in one go, before the server can answer 413 and close
            conn.request("POST", "/v1/embeddings", body=iter([body]), headers={"Content-Type": "application/json"},
                         encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the body was all sent (allowed by HTTP): read its answer
        resp = conn.getresponse()
        assert resp.status == 413 and json.loads(resp.read())["error"]["code"] == "request_too_large"
        assert call(srv.url, "POST", "/v1/embeddings", {"input": "small"})[0] == 200


# --- the OpenAPI schema -----------------------------------------------------------------------------
def _check(value, schema: dict, spec: dict, where: str = "$") -> None:
    """A small JSON-schema check (the subset FastAPI emits): $ref, anyOf, const/enum, types, required."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _check(value, option, spec, where)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no anyOf option: {errors}")
    if "const" in schema or "enum" in schema:
        assert value in schema.get("enum", [schema.get("const")]), f"{where}: {value!r} not allowed"
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
             "boolean": bool, "null": type(None)}
    if kind:
        assert isinstance(value, types[kind]), f"{where}: {type(value).__name__} is not {kind}"
    if kind == "object":
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, spec, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value[:5]):
            _check(item, schema["items"], spec, f"{where}[{i}]")


def test_openapi_schema_is_served_and_matches_responses(server):
    status, spec, _ = call(server.url, "GET", "/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [("/v1/embeddings", "post"), ("/embed", "post"), ("/v1/models", "get"),
                         ("/health", "get"), ("/info", "get")]:
        assert method in paths[path], path
    op = paths["/v1/embeddings"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"input", "model", "dimensions", "encoding_format", "task"} <= set(request["properties"])
    formats = request["properties"]["encoding_format"]
    assert ["float", "base64"] in [o.get("enum") for o in formats.get("anyOf", [formats])]
    for code in ("400", "401", "404", "413", "429"):
        assert code in op["responses"], code

    def response_schema(path: str, method: str, code: str) -> dict:
        return paths[path][method]["responses"][code]["content"]["application/json"]["schema"]

    for encoding in ("float", "base64"):
        _, body, _ = call(server.url, "POST", "/v1/embeddings", {"input": TEXTS[:2], "encoding_format": encoding})
        _check(body, response_schema("/v1/embeddings", "post", "200"), spec)
    _, body, _ = call(server.url, "POST", "/v1/embeddings", {"input": 5})
    _check(body, response_schema("/v1/embeddings", "post", "400"), spec)
    _, body, _ = call(server.url, "POST", "/embed", {"inputs": TEXTS[:2]})
    _check(body, response_schema("/embed", "post", "200"), spec)
    for path in ("/v1/models", "/health"):
        _check(call(server.url, "GET", path)[1], response_schema(path, "get", "200"), spec)
    with pytest.raises(AssertionError):  # the checker itself can fail
        _check({"object": "list"}, response_schema("/v1/embeddings", "post", "200"), spec)


# --- who may connect ----------------------------------------------------------------------------------
def test_binds_loopback_by_default(server, model):
    assert server.sock.getsockname()[0] == "127.0.0.1"
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.allow_remote is False
    status, reply, _ = call(server.url, "GET", "/health", headers={"Host": "attacker.example:8080"})
    assert status == 400 and reply["error"]["code"] == "invalid_host"  # DNS rebinding
    for host in ("localhost:1234", "127.0.0.2", "[::1]:80"):
        assert call(server.url, "GET", "/health", headers={"Host": host})[0] == 200, host
    assert call(server.url, "GET", "/health", headers={"Host": "localhost.attacker.example"})[0] == 400


def test_non_loopback_host_needs_flag_and_key(jina_tiny, capsys, monkeypatch):
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None, False)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(InvalidArgumentError, match="allow-remote"):
            check_bind(host, KEY, False)
        with pytest.raises(InvalidArgumentError, match="API key"):
            check_bind(host, None, True)
        check_bind(host, KEY, True)
    monkeypatch.delenv("MLX_EMBED_API_KEY", raising=False)
    # refused before the model is even loaded (a missing model would be exit 3)
    assert main(["serve", "--host", "0.0.0.0", "--model", "/nonexistent/model"]) == 2
    assert "allow-remote" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote", "--model", "/nonexistent/model"]) == 2
    assert "API key" in capsys.readouterr().err
    monkeypatch.setenv("MLX_EMBED_API_KEY", KEY)
    assert build_parser().parse_args(["serve"]).api_key == KEY


def test_api_key(model):
    with BackgroundServer(create_app(model, ServerSettings(api_key=KEY))) as srv:
        status, reply, headers = call(srv.url, "POST", "/v1/embeddings", {"input": "a"})
        assert status == 401 and reply["error"]["code"] == "invalid_api_key"
        assert headers.get("www-authenticate") == "Bearer"
        assert call(srv.url, "GET", "/v1/models", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert call(srv.url, "GET", "/openapi.json", headers={"Authorization": KEY})[0] == 401
        assert call(srv.url, "GET", "/health")[0] == 200
        # token ids are off by default (LangChain's default tiktoken ids would give wrong vectors)
        status, reply, _ = call(srv.url, "POST", "/v1/embeddings", {"input": [[1, 2, 3]]},
                                headers={"Authorization": f"Bearer {KEY}"})
        assert status == 400 and reply["error"]["code"] == "token_ids_not_accepted"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.url + "/v1", api_key="wrong", max_retries=0).embeddings.create(
                model=model.name, input="a")
        good = openai.OpenAI(base_url=srv.url + "/v1", api_key=KEY, max_retries=0)
        np.testing.assert_allclose(as_array(good.embeddings.create(model=model.name, input=["a"])),
                                   model.encode(["a"]), atol=2e-5)


# --- batching and back-pressure -----------------------------------------------------------------------
def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_concurrent_requests_are_batched_and_each_gets_its_own_vectors(model):
    app = create_app(model, ServerSettings(batch_window_ms=5))
    scheduler = app.state.service.scheduler
    requests = [({"input": [f"text number {i}", TEXTS[i % len(TEXTS)]], "task": task}, task)
                for i, task in enumerate(["retrieval", "clustering"] * 6)]
    with BackgroundServer(app) as srv, ThreadPoolExecutor(len(requests)) as pool:
        with model._lock:  # hold the model so that requests pile up in the queue
            first = pool.submit(call, srv.url, "POST", "/v1/embeddings", requests[0][0])
            _wait(lambda: scheduler.busy and scheduler.pending == 0)
            futures = [first] + [pool.submit(call, srv.url, "POST", "/v1/embeddings", body) for body, _ in requests[1:]]
            _wait(lambda: scheduler.pending == len(requests) - 1)
            before = dict(scheduler.stats)
        replies = [f.result() for f in futures]
    for (body, task), (status, reply, _) in zip(requests, replies):
        assert status == 200, reply
        got = np.array([d["embedding"] for d in reply["data"]])
        np.testing.assert_allclose(got, model.encode(body["input"], task=task), atol=2e-5)
    # the 11 queued requests ran as one batch per task, not one forward pass per request
    assert scheduler.stats["batches"] - before["batches"] == 3
    assert scheduler.stats["largest_batch"] == 6


def test_full_queue_answers_429_then_recovers(model):
    app = create_app(model, ServerSettings(max_queue=2))
    scheduler = app.state.service.scheduler
    with BackgroundServer(app) as srv, ThreadPoolExecutor(3) as pool:
        with model._lock:
            running = pool.submit(call, srv.url, "POST", "/v1/embeddings", {"input": "one"})
            _wait(lambda: scheduler.busy and scheduler.pending == 0)
            queued = [pool.submit(call, srv.url, "POST", "/embed", {"inputs": t}) for t in ("two", "three")]
            _wait(lambda: scheduler.pending == 2)
            status, reply, headers = call(srv.url, "POST", "/v1/embeddings", {"input": "four"})
            assert status == 429 and reply["error"]["code"] == "queue_full" and headers["retry-after"] == "1"
            assert call(srv.url, "GET", "/health")[1]["queue"] == 2
        assert running.result()[0] == 200 and [q.result()[0] for q in queued] == [200, 200]
        assert call(srv.url, "POST", "/v1/embeddings", {"input": "five"})[0] == 200
        assert scheduler.stats["rejected"] == 1


# --- load: N clients for T seconds against `mlx-embed serve`, throughput, p95, flat memory --------------
@pytest.fixture(scope="module")
def cli_server(jina_tiny):
    """`mlx-embed serve` in its own process, on a free loopback port (its memory is measured alone)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mlx_embed.cli import main; sys.exit(main())",
                             "serve", "--model", str(jina_tiny), "--port", "0", "--log-level", "warning",
                             "--no-access-log"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", line)
        assert match, f"unexpected start-up line {line!r}"
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        yield proc, match.group(1)
    finally:
        proc.terminate()
        proc.wait(30)


def test_load_throughput_p95_and_flat_memory(cli_server):
    psutil = pytest.importorskip("psutil")
    proc, url = cli_server
    assert call(url, "GET", "/health")[0] == 200
    rss = psutil.Process(proc.pid).memory_info

    def body(client: int, n: int) -> dict:  # varied lengths and tasks, like real traffic
        text = " ".join([sentence(client, n)] * (1 + n % 4))
        return {"input": [text], "model": f"jina-embeddings-v5-text-small-{('retrieval', 'clustering')[n % 2]}"}

    warm = run_load(url, clients=8, seconds=4, max_requests=1000, body_for=body)
    before = rss().rss
    # Bounded by count (2000 requests) with a generous time cap, so a slow CI machine still measures
    # memory over the same amount of traffic.
    load = run_load(url, clients=8, seconds=120, max_requests=2000, body_for=body)
    after = rss().rss
    print(f"\nload test: 8 clients, {load['requests']} requests in {load['seconds']} s: {load['rps']:.0f} req/s, "
          f"p50 {load['p50_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms; server RSS {before / 2**20:.0f} -> "
          f"{after / 2**20:.0f} MiB")
    assert warm["errors"] == 0 and load["errors"] == 0, warm["error_samples"] + load["error_samples"]
    assert load["requests"] >= 1000, load  # the traffic the memory check is about really happened
    assert after - before < 40 * 2**20, f"RSS grew {(after - before) / 2**20:.0f} MiB over {load['requests']} requests"
    assert proc.poll() is None
    with pytest.raises(ValueError, match="loopback"):
        run_load("http://192.0.2.1:8080", clients=1, seconds=1, max_requests=1)


# --- the real model -------------------------------------------------------------------------------------
def test_real_minilm_over_the_openai_client(minilm_path):
    try:
        model = mlx_embed.load(minilm_path)
    except mlx_embed.ModelFormatError as exc:
        pytest.skip(f"BERT support not available yet: {exc}")
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The stock market crashed today."]
    with BackgroundServer(create_app(model, ServerSettings(served_name="all-MiniLM-L6-v2"))) as srv:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["all-MiniLM-L6-v2"]
        vectors = as_array(client.embeddings.create(model="all-MiniLM-L6-v2", input=texts))
        clustering = as_array(client.embeddings.create(model="all-MiniLM-L6-v2-clustering", input=texts))
    np.testing.assert_allclose(vectors, model.encode(texts), atol=2e-5)
    np.testing.assert_allclose(clustering, vectors, atol=2e-5)  # no adapters: every task is the same model
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.5 > similarity[0, 2]
