"""XLA's CPU flags for the tests' compiles (conftest.py sets them before JAX is imported). The
tests' tiny runs spend most of their time compiling, not computing, so the CPU back end compiles
cheaply: LLVM at -O0 (tests/test_classifier.py with tests/test_loop.py: 58 s against 84 s on 2
cores), and XLA's older loop emitters instead of its MLIR fusion emitters (the 8-device InfoGAN
case: 14 s against 21 s). Programs mean the same either way; speed is measured by benchmarks/, which
keep XLA's defaults. What users run as written (README snippets, the notebook) keeps the defaults:
see helpers.as_a_user_runs."""

CHEAP_COMPILES = " --xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
