package main

// End-to-end tests of govm's virtio devices with the tiny Linux guest:
// virtio-blk (data round trip, read-only disks), virtio-console, virtio-rng
// and virtio-net on a tap. Each asserts what a user would check by hand.
// The guest halves are the scripts in guest-images/linux/tests.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govm/govm/internal/testenv"
)

const (
	mib = 1 << 20
	// diskImageSize is the size of the test disks (sparse files).
	diskImageSize = 64 * mib
	// blkTestMiB is how much the blkwrite guest test writes and reads.
	blkTestMiB = 4
	// hwrngWant is what the hvcrng guest test reads from /dev/hwrng, in
	// 64 KiB blocks (govm.rng64k): 1024 virtio-rng requests of 64 bytes.
	hwrngWant = 64 << 10
	// linuxTimeout bounds each guest boot (govm's own --timeout): the
	// boots take 10-40 s in the nested harness, a stuck one is run again.
	linuxTimeout = "150s"
	// hwrngTimeout bounds the hwrng boot. Linux's hwrng core asks for 64
	// bytes per virtio-rng request, and each costs a round trip through
	// the nested harness: 256 KiB took about 7 s of guest time there
	// (QEMU microvm is no faster), several times that on a busy host.
	hwrngTimeout = "150s"
)

// newDiskImage creates a sparse image of size bytes in the test's temporary
// directory (under /tmp, the only writable place inside the nested harness)
// and fills its first len(head) bytes with head.
func newDiskImage(t *testing.T, size int64, head []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileSHA256 is the hex sha256 of the first n bytes of path (n < 0: all).
func fileSHA256(t *testing.T, path string, n int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if n >= 0 {
		r = io.LimitReader(f, n)
	}
	h := sha256.New()
	got, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 0 && got != n {
		t.Fatalf("%s: read %d bytes, want %d", path, got, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// guestValue returns the value the guest printed as a line NAME=VALUE on
// its console, or fails the test.
func guestValue(t *testing.T, console, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `=(.*?)\r?$`).FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("the guest printed no %s= line; console:\n%s", name, console)
	}
	return m[1]
}

// bootTest boots the tiny guest with govm.test=test plus extra kernel
// arguments and extra govm flags, and returns the console output. The
// guest test must end with GOVM-TEST-DONE rc=0.
func bootTest(t *testing.T, g linuxGuest, test string, govmArgs []string, kernelArgs ...string) string {
	t.Helper()
	args := []string{"run", "--kernel", g.kernel, "--initrd", g.initrd, "--mem", "256M"}
	if !hasFlag(govmArgs, "--timeout") {
		args = append(args, "--timeout", linuxTimeout)
	}
	args = append(args, govmArgs...)
	if !hasFlag(govmArgs, "--append") {
		args = append(args, "--append", cmdline(false, append([]string{"govm.test=" + test}, kernelArgs...)...))
	}
	code, out, errOut := govmRun(t, g.govm, args...)
	if code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s\nconsole:\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "GOVM-TEST-DONE rc=0") {
		t.Fatalf("guest test %s did not end with rc=0\nstderr:\n%s\nconsole:\n%s", test, errOut, out)
	}
	return out
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}

// Data the guest writes to its disk is in the image file, byte for byte,
// and a second boot reads the same data back.
func TestLinuxBlkRoundTrip(t *testing.T) {
	g := needLinuxGuest(t)
	img := newDiskImage(t, diskImageSize, nil)
	mibArg := "govm.mib=" + strconv.Itoa(blkTestMiB)

	out := bootTest(t, g, "blkwrite", []string{"--disk", img}, mibArg)
	if got := guestValue(t, out, "GOVM-BLK-BYTES"); got != strconv.Itoa(diskImageSize) {
		t.Errorf("the guest sees a %s-byte disk, want %d", got, diskImageSize)
	}
	guestSum := guestValue(t, out, "GOVM-SHA256")
	hostSum := fileSHA256(t, img, blkTestMiB*mib)
	t.Logf("sha256 of the first %d MiB: guest %s, host %s", blkTestMiB, guestSum, hostSum)
	if guestSum != hostSum {
		t.Fatalf("the image does not hold what the guest wrote: guest sha256 %s, image %s", guestSum, hostSum)
	}
	if empty := sha256.Sum256(make([]byte, blkTestMiB*mib)); hostSum == hex.EncodeToString(empty[:]) {
		t.Fatalf("the image is still all zeros: the guest's writes did not reach it")
	}
	if fi, err := os.Stat(img); err != nil || fi.Size() != diskImageSize {
		t.Errorf("the image changed size: %v, %v", fi.Size(), err)
	}

	out = bootTest(t, g, "blkread", []string{"--disk", img}, mibArg)
	if got := guestValue(t, out, "GOVM-SHA256"); got != hostSum {
		t.Fatalf("second boot read back sha256 %s, want %s", got, hostSum)
	}
}

// A disk given with ,ro cannot be written by the guest: the write fails and
// the image file stays byte for byte the same. The guest can still read it.
func TestLinuxBlkReadOnly(t *testing.T) {
	g := needLinuxGuest(t)
	head := make([]byte, mib)
	if _, err := rand.Read(head); err != nil {
		t.Fatal(err)
	}
	img := newDiskImage(t, diskImageSize, head)
	before := fileSHA256(t, img, -1)
	headSum := sha256.Sum256(head)

	out := bootTest(t, g, "blkro", []string{"--disk", img + ",ro"})
	t.Logf("guest: GOVM-RO-GETRO=%s, GOVM-RO-WRITE=%s",
		guestValue(t, out, "GOVM-RO-GETRO"), guestValue(t, out, "GOVM-RO-WRITE"))
	if got := guestValue(t, out, "GOVM-RO-GETRO"); got != "1" {
		t.Errorf("the guest kernel does not see the disk as read-only (blockdev --getro = %s)", got)
	}
	if w := guestValue(t, out, "GOVM-RO-WRITE"); !strings.HasPrefix(w, "failed") {
		t.Errorf("the guest's write to a read-only disk did not fail: %s\nconsole:\n%s", w, out)
	}
	if got := guestValue(t, out, "GOVM-RO-READ-SHA256"); got != hex.EncodeToString(headSum[:]) {
		t.Errorf("the guest read sha256 %s from the read-only disk, want %x", got, headSum)
	}
	if after := fileSHA256(t, img, -1); after != before {
		t.Fatalf("the read-only image changed: sha256 %s before, %s after", before, after)
	}
}

// With --console virtio the guest's console is hvc0 (the ready marker comes
// through it), and /dev/hwrng (virtio-rng, on by default) gives random bytes.
func TestLinuxConsoleRng(t *testing.T) {
	g := needLinuxGuest(t)
	app := fmt.Sprintf("console=hvc0 panic=-1 quiet govm.test=hvcrng govm.rng64k=%d", hwrngWant/(64<<10))
	out := bootTest(t, g, "hvcrng", []string{"--console", "virtio", "--timeout", hwrngTimeout, "--append", app})
	if m := regexp.MustCompile(`govm: /dev/hwrng read took .*`).FindString(out); m != "" {
		t.Log(strings.TrimSpace(m))
	}
	if !regexp.MustCompile(`(?m)^GOVM-GUEST-READY`).MatchString(out) {
		t.Errorf("no ready marker on the virtio console:\n%s", out)
	}
	if got := guestValue(t, out, "GOVM-CONSOLE"); !strings.Contains(got, "hvc0") {
		t.Errorf("the guest's console is %q, want hvc0", got)
	}
	if got := guestValue(t, out, "GOVM-HWRNG-CURRENT"); !strings.HasPrefix(got, "virtio_rng") {
		t.Errorf("the guest's hwrng is %q, want virtio_rng.N", got)
	}
	if got := guestValue(t, out, "GOVM-HWRNG-BYTES"); got != strconv.Itoa(hwrngWant) {
		t.Fatalf("read %s bytes from /dev/hwrng, want %d", got, hwrngWant)
	}
	// gzip cannot shrink random data; a stuck source would shrink to ~1 KiB.
	gz, err := strconv.Atoi(guestValue(t, out, "GOVM-HWRNG-GZIP-BYTES"))
	if err != nil || gz < hwrngWant {
		t.Errorf("%d bytes from /dev/hwrng gzip to %d bytes (%v): not random", hwrngWant, gz, err)
	}
}

// tapName is the tap interface the network test creates in its own network
// namespace; the addresses exist only there.
const (
	tapName   = "govmtap0"
	hostAddr  = "10.0.2.2"
	guestAddr = "10.0.2.15"
	// netUpWait is how long the script waits for the guest's GOVM-NET-UP.
	netUpWait = 180
	// floodCount is how many echo requests the host floods the guest
	// with: ping -f -c N sends exactly N, then waits twice the longest
	// round trip for the last replies. A deadline (ping -f -w 10) would
	// count the requests in flight when it expires as lost, and with -c
	// and -w together ping stops once N replies are in, with more sent.
	// Round trips through the nested harness take 2-300 ms.
	floodCount = 1000
	// floodLimit bounds the flood ping (timeout(1) kills it after that).
	floodLimit = 180
	// netGuestWait is how long the guest waits for the host's "done"
	// message (govm.netwait); netTimeout bounds the whole boot.
	netGuestWait = 200
	netTimeout   = "360s"
)

// netScript runs in a fresh network namespace (unshare -n): it creates the
// tap, starts govm on it, flood-pings the guest once it is up, tells it to
// power off over TCP, and waits for govm. It prints KEY=VALUE lines.
const netScript = `set -u
ip link set lo up
ip tuntap add dev "$TAP" mode tap || { echo "TAP-RC=$?"; exit 1; }
ip addr add "$HOST_ADDR/24" dev "$TAP"
ip link set "$TAP" up
"$GOVM" run --kernel "$KERNEL" --initrd "$INITRD" --mem 256M --timeout "$TIMEOUT" \
	--net "tap=$TAP" --append "$APPEND" >"$DIR/console.txt" 2>"$DIR/govm.err" &
pid=$!
up=0
for _ in $(seq 1 "$UP_WAIT"); do
	if grep -q GOVM-NET-UP "$DIR/console.txt"; then up=1; break; fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 1
done
echo "NET-UP=$up"
if [ "$up" = 1 ]; then
	timeout "$FLOOD_LIMIT" ping -f -c "$FLOOD_COUNT" "$GUEST_ADDR" >"$DIR/flood.txt" 2>&1
	echo "FLOOD-RC=$?"
	# The guest powers off once it gets this line (or after govm.netwait).
	for _ in 1 2 3 4 5; do
		if echo govm-done 2>/dev/null >"/dev/tcp/$GUEST_ADDR/7777"; then echo "TCP-SENT=1"; break; fi
		sleep 1
	done
fi
wait "$pid"
echo "GOVM-RC=$?"
`

// The guest on a tap reaches the host, and the host's flood ping of the
// guest loses nothing.
func TestLinuxNet(t *testing.T) {
	g := needLinuxGuest(t)
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (for a network namespace and a tap)")
	}
	for _, tool := range []string{"unshare", "ip", "ping", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" (make deps)")
		}
	}
	needTun(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "bash", "-c", netScript)
	cmd.Env = append(os.Environ(),
		"TAP="+tapName, "HOST_ADDR="+hostAddr, "GUEST_ADDR="+guestAddr,
		"GOVM="+g.govm, "KERNEL="+g.kernel, "INITRD="+g.initrd, "TIMEOUT="+netTimeout,
		"APPEND="+cmdline(false, "govm.test=net", "govm.netwait="+strconv.Itoa(netGuestWait)), "DIR="+dir,
		"UP_WAIT="+strconv.Itoa(netUpWait), "FLOOD_COUNT="+strconv.Itoa(floodCount),
		"FLOOD_LIMIT="+strconv.Itoa(floodLimit))
	start := time.Now()
	script, err := cmd.CombinedOutput()
	t.Logf("network script: %v in %v\n%s", err, time.Since(start).Round(time.Millisecond), script)
	console, _ := os.ReadFile(filepath.Join(dir, "console.txt"))
	govmErr, _ := os.ReadFile(filepath.Join(dir, "govm.err"))
	flood, _ := os.ReadFile(filepath.Join(dir, "flood.txt"))
	dump := fmt.Sprintf("script:\n%s\ngovm stderr:\n%s\nconsole:\n%s\nflood ping:\n%s", script, govmErr, console, flood)
	if err != nil {
		t.Fatalf("network script: %v\n%s", err, dump)
	}
	if !strings.Contains(string(script), "NET-UP=1") {
		t.Fatalf("the guest could not ping the host (no GOVM-NET-UP)\n%s", dump)
	}
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received.*, time (\d+)ms`).FindStringSubmatch(string(flood))
	if m == nil {
		t.Fatalf("no statistics from the flood ping\n%s", dump)
	}
	sent, _ := strconv.Atoi(m[1])
	got, _ := strconv.Atoi(m[2])
	ms, _ := strconv.Atoi(m[3])
	t.Logf("flood ping: %d transmitted, %d received in %d ms (%.0f round trips/s)", sent, got, ms, float64(got)*1000/float64(max(ms, 1)))
	if sent != floodCount || got != sent {
		t.Errorf("flood ping lost packets: %d transmitted, %d received\n%s", sent, got, dump)
	}
	if !strings.Contains(string(flood), " 0% packet loss") {
		t.Errorf("flood ping does not report 0%% packet loss:\n%s", flood)
	}
	if !strings.Contains(string(script), "TCP-SENT=1") ||
		!regexp.MustCompile(`(?m)^GOVM-NET-TCP=govm-done\r?$`).Match(console) {
		t.Errorf("the TCP message to the guest did not arrive\n%s", dump)
	}
	if !strings.Contains(string(script), "GOVM-RC=0") || !strings.Contains(string(console), "GOVM-TEST-DONE rc=0") {
		t.Errorf("govm or the guest test did not end cleanly\n%s", dump)
	}
}

// needTun makes sure /dev/net/tun exists. The nested harness's L1 does not
// load the tun module, so there (GOVM_NESTED=1) the test loads it from the
// kernel package the guest image was built from (L1 runs the same kernel).
func needTun(t *testing.T) {
	t.Helper()
	const tun = "/dev/net/tun"
	if _, err := os.Stat(tun); err == nil {
		return
	}
	if os.Getenv("GOVM_NESTED") != "1" {
		testenv.Missing(t, tun+" (modprobe tun)")
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	mods, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "build/debs/x/linux-image-*/lib/modules",
		release, "kernel/drivers/net/tun.ko"))
	if len(mods) == 0 {
		testenv.Missing(t, tun+": no tun.ko for "+release+" under build/debs (make guest)")
	}
	if out, err := exec.Command("insmod", mods[0]).CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("%s: insmod %s: %v: %s", tun, mods[0], err, out))
	}
	for range 50 { // devtmpfs creates the node asynchronously
		if _, err := os.Stat(tun); err == nil {
			t.Logf("loaded %s", mods[0])
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	testenv.Missing(t, tun+" did not appear after insmod tun")
}
