#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the packages,
# builds with warnings as errors, and runs every test (unit, integration,
# application) with ctest. A second pass builds with ASan + UBSan and runs
# the unit and integration tests again, and a third builds the libFuzzer
# targets and runs each briefly on its seed corpus.
#   CISRES_TEST_QUICK=1  skips the sanitizer and fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

"$src/scripts/install-deps.sh"

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

echo "== build (warnings are errors) =="
cmake -S "$src" -B "$src/build" -DCISRES_WERROR=ON -DCISRES_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$src/build" -j"$jobs"

echo "== tests =="
ctest --test-dir "$src/build" --output-on-failure --no-tests=error -j"$jobs"

if [ "${CISRES_TEST_QUICK:-0}" != 1 ]; then
	echo "== ASan + UBSan build and tests =="
	CC=clang cmake -S "$src" -B "$src/build-asan" -DCISRES_WERROR=ON -DCISRES_SANITIZE=ON -DCISRES_TESTS=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build "$src/build-asan" -j"$jobs"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir "$src/build-asan" --output-on-failure --no-tests=error -j"$jobs" -L 'unit|integration' -LE 'module|load'

	echo "== fuzz targets (short runs on the seed corpora) =="
	CC=clang cmake -S "$src" -B "$src/build-fuzz" -DCISRES_FUZZ=ON -DCISRES_TESTS=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build "$src/build-fuzz" -j"$jobs"
	ctest --test-dir "$src/build-fuzz" --output-on-failure --no-tests=error -j"$jobs" -L fuzz
fi
