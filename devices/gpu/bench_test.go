package gpu

import (
	"testing"
)

// BenchmarkTransferFlush1280x800 is one full-screen frame the way Linux
// sends it: TRANSFER_TO_HOST_2D of the whole 1280x800 framebuffer (4 KiB
// pages of guest memory, scattered), then RESOURCE_FLUSH, to a sink that
// copies the frame as a real one must.
func BenchmarkTransferFlush1280x800(b *testing.B) {
	const w, h = 1280, 800
	r := newRig(b, Options{Width: w, Height: h}, w*h*BytesPerPixel)
	r.sink.discard = true
	fb := r.newFramebuffer(w, h)
	fb.fill(0, 0, w, 8, 1)
	r.setup(1, fb)
	full := Rect{Width: w, Height: h}
	r.expect(SetScanout{Rect: full, ResourceID: 1}, RespOKNoData)
	transfer := Encode(CtrlHeader{Flags: FlagFence, FenceID: 1}, TransferToHost2D{Rect: full, ResourceID: 1})
	flush := Encode(CtrlHeader{}, ResourceFlush{Rect: full, ResourceID: 1})
	resp := []uint32{SizeCtrlHdr}
	b.SetBytes(w * h * BytesPerPixel)
	b.ResetTimer()
	for b.Loop() {
		r.ctrl.AddChain([][]byte{transfer}, resp)
		r.ctrl.AddChain([][]byte{flush}, resp)
		r.ctrl.Kick()
		if used := r.ctrl.Used(); len(used) != 2 {
			b.Fatalf("used %+v", used)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	if err := r.d.SinkErr(); err != nil {
		b.Fatal(err)
	}
}
