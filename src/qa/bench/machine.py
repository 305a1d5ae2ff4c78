"""The machine, the package versions and the thread settings a run was measured with."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path

from qa.bench.common import _pinned_faiss


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        import psutil

        mem = int(psutil.virtual_memory().total)
    except ImportError:
        pass
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_available_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_bytes": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "qa",
        "numpy",
        "torch",
        "onnxruntime",
        "tokenizers",
        "sentence-transformers",
        "transformers",
        "faiss-cpu",
        "bm25s",
        "fastapi",
        "uvicorn",
        "httpx",
        "pypdf",
        "matplotlib",
        "psutil",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def thread_info() -> dict:
    """faiss's threads, ONNX Runtime's (intra-op threads per run, runs side by side), and torch's where this
    process imported torch."""
    from qa.embed import ONNX_INTRA_OP_THREADS, cpu_threads

    faiss = _pinned_faiss()
    out = {
        "faiss_omp_max_threads_count": int(faiss.omp_get_max_threads()),
        "onnx_intra_op_threads_count": ONNX_INTRA_OP_THREADS,
        "onnx_parallel_runs_count": cpu_threads(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_num_threads_count"] = int(torch.get_num_threads())
        out["torch_interop_threads_count"] = int(torch.get_num_interop_threads())
    return {
        **out,
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_WAIT_POLICY",
                "QA_FAISS_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "TOKENIZERS_PARALLELISM",
                "QA_BACKEND",
                "QA_THREADS",
            )
        },
    }
