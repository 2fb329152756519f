"""numpy float32 matrix-multiply peak (GFLOP/s) with the BLAS thread count given: the best of
several 2048³ products. Prints one JSON line."""

import json
import os
import sys

threads = sys.argv[1] if len(sys.argv) > 1 else "1"
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = threads  # must precede the numpy import

import time  # noqa: E402
import numpy as np  # noqa: E402

n = int(os.environ.get("SGEMM_N", "2048"))
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32)
b = rng.random((n, n), dtype=np.float32)
a @ b  # warm-up
# Best wall time of 10 products, and FLOPs per CPU-second over all of them: on a busy machine
# the first is depressed by other processes, the second much less so (it is a per-core rate
# times the cores actually used).
best = float("inf")
c0 = time.process_time()
reps = 10
for _ in range(reps):
    t0 = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t0)
cpu = time.process_time() - c0
print(json.dumps({"threads": int(threads), "n": n, "gflops": 2 * n**3 / best / 1e9,
                  "gflop_per_cpu_s": 2 * n**3 * reps / cpu / 1e9, "numpy": np.__version__}))
