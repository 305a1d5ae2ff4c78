"""The API section: POST /api/ask through uvicorn on a loopback socket, paired with in-process ask, and
throughput with concurrent clients."""

from __future__ import annotations

import socket
import statistics
import threading
import time

from qa.bench.common import _ratio, _timed, latency_summary, log


def _api_factory():
    """qa.service's Service and qa.server's create_app, or a reason why the API cannot be measured."""
    try:
        from qa.server import create_app
        from qa.service import Service
    except Exception as e:  # any import failure means "not measured"
        return None, f"the REST API does not import ({type(e).__name__}: {e})"
    return (Service, create_app), ""


def bench_api(idx, questions: list[str], quick: bool, clients: int = 8) -> dict:
    """POST /api/ask through uvicorn on a loopback socket in this process, paired with in-process ask."""
    factory, reason = _api_factory()
    if factory is None:
        return {"measured": False, "reason": reason}
    make_service, create_app = factory
    import httpx
    import uvicorn

    from qa.config import Settings

    service = make_service(Settings(index=idx.path), index=idx)
    app = create_app(service, ui=False)
    # uvicorn binds the port itself, as `qa serve` does: a socket handed to it pre-bound lacks TCP_NODELAY
    # and every response then stalls ~40 ms on delayed ACKs.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                return {"measured": False, "reason": "uvicorn did not start"}
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        log(f"API: sequential POST /api/ask paired with in-process ask, then {clients} concurrent clients")
        with httpx.Client(base_url=base, timeout=120) as client:
            first = client.post("/api/ask", json={"question": questions[0]})
            first.raise_for_status()
            same = first.json().get("answer") == idx.ask(questions[0]).answer
            api, local = [], []
            for _ in range(1 if quick else 2):
                for q in questions:
                    local.append(_timed(idx.ask, q)[1])
                    t = time.perf_counter()
                    r = client.post("/api/ask", json={"question": q})
                    api.append(time.perf_counter() - t)
                    r.raise_for_status()
        per_client = 2 if quick else len(questions)
        conc = _concurrent(
            lambda c, q: c.post("/api/ask", json={"question": q}).raise_for_status(),
            lambda: httpx.Client(base_url=base, timeout=120),
            questions,
            clients,
            per_client,
        )
        inproc = _concurrent(lambda _c, q: idx.ask(q), lambda: None, questions, clients, per_client)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    diffs = [a - b for a, b in zip(api, local, strict=True)]
    api_s, local_s = latency_summary(api), latency_summary(local)
    return {
        "measured": True,
        "settings": {
            "clients": clients,
            "requests_count": clients * per_client,
            "transport": "uvicorn on 127.0.0.1 in this process, httpx clients in threads of the same process",
        },
        "answers_match": bool(same),
        "api": api_s,
        "in_process": local_s,
        "overhead_p50_ms": round(api_s["p50_ms"] - local_s["p50_ms"], 3),
        "overhead_paired_median_ms": round(statistics.median(diffs) * 1000, 3),
        "concurrent": conc,
        "in_process_concurrent": inproc,
        "throughput_vs_in_process_ratio": _ratio(conc["throughput_per_s"], inproc["throughput_per_s"]),
        "note": "client and server share this process (and its GIL), so the overhead is an upper bound",
    }


def _concurrent(call, make_client, questions: list[str], clients: int, per_client: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(clients)

    def run(c: int) -> list[float]:
        client = make_client()
        lat = []
        barrier.wait()
        for j in range(per_client):
            q = questions[(c + j) % len(questions)]
            lat.append(_timed(call, client, q)[1])
        if client is not None:
            client.close()
        return lat

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for part in pool.map(run, range(clients)) for x in part]
    wall = time.perf_counter() - t
    return {**latency_summary(lat), "wall_s": round(wall, 3), "throughput_per_s": round(len(lat) / wall, 2)}
