package gpu

import (
	"errors"

	"github.com/govm/govm/devices/virtio"
)

// The cursor queue. Linux puts each UPDATE_CURSOR / MOVE_CURSOR in a chain
// with no writable part (it wants no response); a chain that has room gets
// one anyway, which is how tests see the error codes.

// cursor is the guest's cursor: its image, copied out of the resource at
// UPDATE_CURSOR time, and its position.
type cursor struct {
	visible    bool
	hotX, hotY uint32
	pos        CursorPos
	img        Frame // Pix is allocated once, CursorSize² pixels
}

// serveCursor reads one cursor request, does it and responds if it can.
func (d *Device) serveCursor(c *virtio.Chain) (uint32, error) {
	r := c.Reader(d.mem)
	var b [SizeUpdateCursor]byte
	if err := readFull(r, b[:SizeCtrlHdr]); err != nil {
		if errors.Is(err, errShortRequest) {
			return d.respond(c, CtrlHeader{Type: RespErrUnspec}, nil)
		}
		return 0, err
	}
	h, _ := DecodeHeader(b[:])
	if h.Type != CmdUpdateCursor && h.Type != CmdMoveCursor {
		return d.respond(c, h.Response(RespErrUnspec), nil)
	}
	if err := readFull(r, b[SizeCtrlHdr:]); err != nil {
		if errors.Is(err, errShortRequest) {
			return d.respond(c, h.Response(RespErrUnspec), nil)
		}
		return 0, err
	}
	var t CtrlType
	if h.Type == CmdUpdateCursor {
		var u UpdateCursor
		u.decode(b[SizeCtrlHdr:])
		t = d.updateCursor(u)
	} else {
		var m MoveCursor
		m.decode(b[SizeCtrlHdr:])
		t = d.moveCursor(m)
	}
	return d.respond(c, h.Response(t), nil)
}

// updateCursor takes a new cursor image (the top-left CursorSize×CursorSize
// of the resource at most) and position; resource 0 hides the cursor.
func (d *Device) updateCursor(u UpdateCursor) CtrlType {
	if u.Pos.ScanoutID >= uint32(len(d.scanouts)) {
		return RespErrInvalidScanoutID
	}
	if u.ResourceID == 0 {
		d.hideCursor()
		d.cursor.pos = u.Pos
		return RespOKNoData
	}
	r, t := d.lookup(u.ResourceID)
	if r == nil {
		return t
	}
	w, h := min(r.width, CursorSize), min(r.height, CursorSize)
	if u.HotX >= w || u.HotY >= h {
		return RespErrInvalidParameter
	}
	f, err := d.backend.Frame(u.ResourceID, Rect{Width: w, Height: h})
	if err != nil {
		return RespErrUnspec
	}
	img := &d.cursor.img
	row := int(w) * BytesPerPixel
	img.Width, img.Height, img.Stride, img.Format = int(w), int(h), row, r.format
	for y := range int(h) {
		copy(img.Pix[y*row:(y+1)*row], f.Pix[y*f.Stride:])
	}
	d.cursor.visible, d.cursor.hotX, d.cursor.hotY, d.cursor.pos = true, u.HotX, u.HotY, u.Pos
	if d.cursorSink != nil {
		d.cursorSink.SetCursor(img, u.HotX, u.HotY)
		d.cursorSink.MoveCursor(u.Pos.ScanoutID, u.Pos.X, u.Pos.Y)
	}
	return RespOKNoData
}

// moveCursor moves the cursor without changing its image.
func (d *Device) moveCursor(m MoveCursor) CtrlType {
	if m.Pos.ScanoutID >= uint32(len(d.scanouts)) {
		return RespErrInvalidScanoutID
	}
	d.cursor.pos = m.Pos
	if d.cursorSink != nil {
		d.cursorSink.MoveCursor(m.Pos.ScanoutID, m.Pos.X, m.Pos.Y)
	}
	return RespOKNoData
}

// hideCursor hides a visible cursor.
func (d *Device) hideCursor() {
	if !d.cursor.visible {
		return
	}
	d.cursor.visible = false
	if d.cursorSink != nil {
		d.cursorSink.SetCursor(nil, 0, 0)
	}
}
