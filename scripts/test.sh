#!/usr/bin/env bash
# test.sh: govm's whole test suite, as `make test` and CI run it.
#
#   1. static checks: gofmt, go vet, staticcheck, CGO_ENABLED=0 build
#   2. unit, fuzz-seed and host-KVM tests (the test guest on /dev/kvm)
#   3. Linux-guest tests (TestLinux*) under real KVM: directly when
#      `govm probe` says ring-0 code runs natively here, otherwise inside
#      the nested-KVM harness (scripts/nested.sh), all in one L1 boot
#   4. the exit-cost benchmark (reported, never asserted)
#
# Where /dev/kvm exists, GOVM_REQUIRE_KVM=1 turns every skip of a KVM or
# guest-image test into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:$HOME/go/bin
log() { printf '\n=== %s\n' "$*" >&2; }

if [[ -e /dev/kvm ]]; then
	export GOVM_REQUIRE_KVM=1
fi

log "static checks"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*'))
if [[ -n $bad ]]; then
	echo "gofmt needed on: $bad" >&2
	exit 1
fi
go vet ./...
CGO_ENABLED=0 go build ./...
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.7.0 >&2 || true
fi
if command -v staticcheck >/dev/null; then
	staticcheck ./...
else
	echo "staticcheck unavailable (module proxy unreachable?)" >&2
	exit 1
fi

mkdir -p build/tests
status=0

log "unit and host-KVM tests"
# Verbose output goes to a log; the console shows the package lines and,
# on failure, the whole log.
if go test -count=1 -v -skip 'Linux' ./... >build/tests/unit.log 2>&1; then
	grep -E '^(ok|\?) ' build/tests/unit.log
else
	cat build/tests/unit.log
	status=1
fi

log "Linux-guest tests under real KVM"
go test -c -o build/tests/govm.test ./cmd/govm
verdict=$(build/govm probe --verdict)
echo "govm probe: ring-0 guest code is $verdict on this host" >&2
# linux RUN-REGEX SKIP-REGEX LOG SECONDS: run the Linux-guest tests
# matching RUN-REGEX but not SKIP-REGEX, in one L1 boot bounded by SECONDS.
# The whole suite takes about 10 minutes in the harness.
linux() {
	local cmd="cd cmd/govm && GOVM_REQUIRE_KVM=1 ../../build/tests/govm.test -test.count=1 -test.v -test.run '$1' -test.skip '$2' -test.timeout $(($4 / 60 - 2))m"
	if [[ $verdict == native ]]; then
		bash -c "$cmd" 2>&1 | tee "$3"
	else
		# --silence: an L1 the nested fault has hung prints nothing; stop
		# it after 7 minutes (the longest quiet stretch of a test is a
		# virgl boot's 240 s timeout) so that a fresh L1 gets the rest.
		scripts/nested.sh --timeout "$4" --silence 420 -- "$cmd" 2>&1 | tee "$3"
	fi
}
# passedtests LOG...: the top-level Linux tests that passed, as a regex
# alternation (empty if none).
passedtests() { cat "$@" | grep -oE '^--- PASS: TestLinux[A-Za-z0-9_]+' | awk '{print $3}' | sort -u | paste -sd'|' || true; }
# The nested stack has a fault of its own (README, "Tests"): a guest now
# and then resumes at L1's address after VMRUN. The tests rerun such a boot
# once in the same L1, but once an L1 has hit it, its next boots often do
# too; so the tests that did not pass (failed, or never reached if the
# session stopped) run again in a fresh L1, at most twice, and the run
# says so loudly. A test that fails in all three sessions fails the run.
# Time: at most 30 + 2 x 15 minutes, inside CI's 90 with the rest.
rm -f build/tests/linux-*.log build/tests/linux.log build/tests/linux-retry.log
logs=(build/tests/linux-1.log)
linux Linux '^$' "${logs[0]}" 1800 && linux_ok=1 || linux_ok=
while [[ -z $linux_ok && ${#logs[@]} -lt 3 ]]; do
	passed=$(passedtests "${logs[@]}")
	logs+=("build/tests/linux-$((${#logs[@]} + 1)).log")
	echo "test.sh: RETRYING in a fresh L1 (session ${#logs[@]} of 3) the Linux tests that did not pass (passed: ${passed:-none})" >&2
	linux Linux "^(${passed:-^$})\$" "${logs[-1]}" 900 && linux_ok=1
done
if [[ -n $linux_ok && ${#logs[@]} -gt 1 ]]; then
	echo "test.sh: FLAKY: passed only in L1 session ${#logs[@]}: $(passedtests "${logs[-1]}")" >&2
fi
[[ -n $linux_ok ]] || status=1

log "exit-cost benchmark (reported, not asserted)"
bench/exits.sh || echo "exit benchmark failed (not a test failure)" >&2

# The Linux tests' result: from each earlier session the tests that passed
# there, and the last session whole.
linuxlogs() {
	local i p last=$((${#logs[@]} - 1))
	for ((i = 0; i < last; i++)); do
		p=$(passedtests "${logs[i]}")
		[[ -z $p ]] || grep -E "^\s*--- (PASS|FAIL|SKIP): ($p)(/| )" "${logs[i]}" || true
	done
	cat "${logs[last]}"
}
count() { { cat build/tests/unit.log; linuxlogs; } | grep -cE "^\s*--- $1" || true; }
passed=$(count PASS) failed=$(count FAIL) skipped=$(count SKIP)
# Guest boots the tests ran again because the nested stack killed them
# (govmRun in cmd/govm/linux_test.go): reported, never hidden.
flakelines() { cat "${logs[@]}"; }
flakes=$(flakelines | grep -c 'NESTED-FLAKE:' || true)
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((flakes > 0)); then
	echo "nested-stack reruns: $flakes guest boot(s) died of the nested harness and ran again:" >&2
	flakelines | grep -E 'NESTED-FLAKE:' | sed 's/^ */  /' >&2 || true
fi
if [[ $skipped != 0 ]]; then
	echo "skipped tests count as failures here:" >&2
	{ cat build/tests/unit.log; linuxlogs; } | grep -E '^\s*--- SKIP' -A1 >&2
	status=1
fi
if ((passed == 0)); then
	echo "no test ran" >&2
	status=1
fi
exit $status
