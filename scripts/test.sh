#!/usr/bin/env bash
# Runs SharpGPT's whole test suite on a machine that has only the .NET SDK: installs what the tests need
# (OpenMPI for the distributed tests, Chromium for the demo-page test, the npm packages of the real-client
# tests), builds, runs every test project, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
missing=()
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin libopenmpi-dev)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "installing ${missing[*]}"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || echo "warning: could not install ${missing[*]}; the tests that need them will fail"
fi
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) || echo "warning: npm ci failed in tests/e2e"

results=TestResults
rm -rf "$results"
mkdir -p "$results"

echo "== restore and build"
if ! dotnet build SharpGpt.slnx -c Release -warnaserror --nologo -v quiet; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== test"
dotnet test SharpGpt.slnx -c Release --no-build --nologo \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
status=$?

# The kernel and model tests once more with AVX-512 and AVX-VNNI switched off in the runtime, as on an AVX2
# processor (Haswell to Comet Lake, Zen 1-3): the Vector256 GEMM micro-kernel, the AVX2 quantized path and every
# other fallback then run end to end, not only where a test forces them.
echo "== kernel and model tests as on an AVX2 processor"
for project in tests/SharpGpt.Tensors.Tests tests/SharpGpt.Model.Tests; do
  DOTNET_EnableAVX512=0 DOTNET_EnableAVXVNNI=0 dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results/avx2" || status=1
done

# Sum the counters of every project's TRX report.
passed=0
failed=0
for trx in "$results"/*.trx "$results"/avx2/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A test host that crashed or a project that did not report counts as a failure.
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
