//go:build cgo

package virgl

// This file is every call into libvirglrenderer and GL. It is unsafe
// because it hands C pointers to memory:
//   - command buffers and capset buffers are Go []byte without Go
//     pointers inside, passed for the duration of one call (cgo's rules
//     allow that; virglrenderer keeps no copy);
//   - backing iovecs live in C memory (C.malloc) and point at guest RAM.
//     Guest RAM is an mmap in govm; in tests it is a Go slice, so every
//     piece is pinned with a runtime.Pinner for as long as virglrenderer
//     may use it (until DetachBacking or Unref), which is what the cgo
//     rules require for Go pointers stored in C memory. Pinner ignores
//     non-Go pointers.
//   - the frame buffer of a read-back is a Go slice pinned for the call,
//     described by a Go-allocated iovec.
// Every length handed to C was bounded by the device or by this package
// first; virglrenderer checks transfers against the iovecs again.

/*
#cgo pkg-config: virglrenderer epoxy
#define VIRGL_RENDERER_UNSTABLE_APIS 1
#include <stdlib.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virglrenderer.h>
#include <epoxy/gl.h>
#include <epoxy/egl.h>

// Implemented in Go (callbacks.go).
extern void govmVirglFence(uint32_t fence);
extern void govmVirglContextFence(uint32_t ctx, uint32_t ring, uint64_t fence);

// struct virgl_box is only declared by virglrenderer.h; its layout is
// virtio_gpu_box's: x, y, z, w, h, d.
struct virgl_box { uint32_t x, y, z, w, h, d; };

static int govm_drm_fd = -1;
static int govm_cookie; // virglrenderer wants a non-NULL cookie

static void govm_write_fence(void *cookie, uint32_t fence) { govmVirglFence(fence); }

static void govm_write_context_fence(void *cookie, uint32_t ctx, uint32_t ring, uint64_t fence) {
	govmVirglContextFence(ctx, ring, fence);
}

// virglrenderer owns (and closes) the fd it is given.
static int govm_get_drm_fd(void *cookie) {
	int fd = govm_drm_fd;
	govm_drm_fd = -1;
	return fd;
}

// Version 3: write_context_fence is the last callback used.
static struct virgl_renderer_callbacks govm_cbs = {
	.version = 3,
	.write_fence = govm_write_fence,
	.get_drm_fd = govm_get_drm_fd,
	.write_context_fence = govm_write_context_fence,
};

static int govm_init(int flags, int drm_fd) {
	govm_drm_fd = drm_fd;
	return virgl_renderer_init(&govm_cookie, flags, &govm_cbs);
}

// Shared GL (Options.Share): virglrenderer makes its GL contexts through
// these callbacks, on the window's EGL display and in its context's share
// group, so the window can draw virgl's textures. The contexts need no
// surface: virglrenderer renders into textures only.
static EGLDisplay govm_egl_dpy = EGL_NO_DISPLAY;
static EGLConfig govm_egl_cfg;
static EGLContext govm_egl_share = EGL_NO_CONTEXT;
static EGLenum govm_egl_api = EGL_OPENGL_API;

static virgl_renderer_gl_context govm_create_gl_context(void *cookie, int scanout,
		struct virgl_renderer_gl_ctx_param *p) {
	EGLint attrs[] = { EGL_CONTEXT_MAJOR_VERSION, p->major_ver, EGL_CONTEXT_MINOR_VERSION, p->minor_ver, EGL_NONE };
	if (!eglBindAPI(govm_egl_api))
		return NULL;
	EGLContext c = eglCreateContext(govm_egl_dpy, govm_egl_cfg, govm_egl_share, attrs);
	return c == EGL_NO_CONTEXT ? NULL : (virgl_renderer_gl_context)c;
}

static void govm_destroy_gl_context(void *cookie, virgl_renderer_gl_context c) {
	eglDestroyContext(govm_egl_dpy, (EGLContext)c);
}

// Called on virglrenderer's thread and on its fence thread.
static int govm_make_current(void *cookie, int scanout, virgl_renderer_gl_context c) {
	if (!eglBindAPI(govm_egl_api))
		return -1;
	return eglMakeCurrent(govm_egl_dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, c ? (EGLContext)c : EGL_NO_CONTEXT) ? 0 : -1;
}

static struct virgl_renderer_callbacks govm_shared_cbs = {
	.version = 3,
	.write_fence = govm_write_fence,
	.create_gl_context = govm_create_gl_context,
	.destroy_gl_context = govm_destroy_gl_context,
	.make_current = govm_make_current,
	.write_context_fence = govm_write_context_fence,
};

static int govm_init_shared(int flags, uintptr_t dpy, uintptr_t cfg, uintptr_t share, int gles) {
	govm_egl_dpy = (EGLDisplay)dpy;
	govm_egl_cfg = (EGLConfig)cfg;
	govm_egl_share = (EGLContext)share;
	govm_egl_api = gles ? EGL_OPENGL_ES_API : EGL_OPENGL_API;
	return virgl_renderer_init(&govm_cookie, flags, &govm_shared_cbs);
}

// govm_texture finishes the GL work so far (another context, on another
// thread, is about to read the texture) and describes resource id's
// texture.
static int govm_texture(uint32_t id, uint32_t *tex, uint32_t *w, uint32_t *h, uint32_t *flags) {
	struct virgl_renderer_resource_info info;
	int rc = virgl_renderer_resource_get_info(id, &info);
	if (rc)
		return rc;
	glFinish();
	*tex = info.tex_id;
	*w = info.width;
	*h = info.height;
	*flags = info.flags;
	return 0;
}

static void govm_cleanup(void) { virgl_renderer_cleanup(&govm_cookie); }

static const char *govm_gl_string(unsigned int name) {
	virgl_renderer_force_ctx_0();
	return (const char *)glGetString(name);
}

static int govm_resource_create(uint32_t handle, uint32_t target, uint32_t format, uint32_t bind,
		uint32_t width, uint32_t height, uint32_t depth, uint32_t array_size,
		uint32_t last_level, uint32_t nr_samples, uint32_t flags) {
	struct virgl_renderer_resource_create_args a = {
		.handle = handle, .target = target, .format = format, .bind = bind,
		.width = width, .height = height, .depth = depth, .array_size = array_size,
		.last_level = last_level, .nr_samples = nr_samples, .flags = flags,
	};
	return virgl_renderer_resource_create(&a, NULL, 0);
}

static void govm_detach_iov(uint32_t handle) {
	struct iovec *iov = NULL;
	int n = 0;
	virgl_renderer_resource_detach_iov(handle, &iov, &n);
}

static int govm_transfer(int write, uint32_t handle, uint32_t ctx, uint32_t level, uint32_t stride,
		uint32_t layer_stride, uint32_t x, uint32_t y, uint32_t z, uint32_t w, uint32_t h, uint32_t d,
		uint64_t offset, struct iovec *iov, int n) {
	struct virgl_box box = { x, y, z, w, h, d };
	if (write)
		return virgl_renderer_transfer_write_iov(handle, ctx, level, stride, layer_stride, &box, offset, iov, n);
	return virgl_renderer_transfer_read_iov(handle, ctx, level, stride, layer_stride, &box, offset, iov, n);
}
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/govm/govm/devices/gpu"
)

// Flags of virgl_renderer_init.
const (
	flagUseEGL         = C.VIRGL_RENDERER_USE_EGL
	flagThreadSync     = C.VIRGL_RENDERER_THREAD_SYNC
	flagUseSurfaceless = C.VIRGL_RENDERER_USE_SURFACELESS
	flagUseGLES        = C.VIRGL_RENDERER_USE_GLES
)

// glGetString names.
const (
	glVendor   = 0x1F00
	glRenderer = 0x1F01
	glVersion  = 0x1F02
)

func cInit(flags int, drmFD int) int { return int(C.govm_init(C.int(flags), C.int(drmFD))) }

// cInitShared initialises virglrenderer on a caller's EGL display and
// share context (uintptr values of EGLDisplay, EGLConfig, EGLContext).
func cInitShared(flags int, share *SharedGL) int {
	gles := C.int(0)
	if share.GLES {
		gles = 1
	}
	return int(C.govm_init_shared(C.int(flags), C.uintptr_t(share.Display), C.uintptr_t(share.Config),
		C.uintptr_t(share.Context), gles))
}

// cTexture describes resource id's GL texture after a glFinish.
func cTexture(id uint32) (tex, width, height, flags uint32, rc int) {
	var t, w, h, f C.uint32_t
	rc = int(C.govm_texture(C.uint32_t(id), &t, &w, &h, &f))
	return uint32(t), uint32(w), uint32(h), uint32(f), rc
}

func cCleanup()    { C.govm_cleanup() }
func cPoll()       { C.virgl_renderer_poll() }
func cPollFD() int { return int(C.virgl_renderer_get_poll_fd()) }

func cGLString(name uint32) string {
	s := C.govm_gl_string(C.uint(name))
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func cCapset(id uint32) (maxVersion, maxSize uint32) {
	var v, s C.uint32_t
	C.virgl_renderer_get_cap_set(C.uint32_t(id), &v, &s)
	return uint32(v), uint32(s)
}

// cFillCaps fills buf, which must be the capset's max size.
func cFillCaps(id, version uint32, buf []byte) {
	C.virgl_renderer_fill_caps(C.uint32_t(id), C.uint32_t(version), unsafe.Pointer(&buf[0]))
}

func cContextCreate(id, capset uint32, name string) int {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if capset == 0 {
		return int(C.virgl_renderer_context_create(C.uint32_t(id), C.uint32_t(len(name)), cname))
	}
	return int(C.virgl_renderer_context_create_with_flags(C.uint32_t(id), C.uint32_t(capset), C.uint32_t(len(name)), cname))
}

func cContextDestroy(id uint32) { C.virgl_renderer_context_destroy(C.uint32_t(id)) }
func cAttach(ctx, res uint32)   { C.virgl_renderer_ctx_attach_resource(C.int(ctx), C.int(res)) }
func cDetach(ctx, res uint32)   { C.virgl_renderer_ctx_detach_resource(C.int(ctx), C.int(res)) }

func cResourceCreate(c gpu.ResourceCreate3D) int {
	return int(C.govm_resource_create(C.uint32_t(c.ResourceID), C.uint32_t(c.Target), C.uint32_t(c.Format),
		C.uint32_t(c.Bind), C.uint32_t(c.Width), C.uint32_t(c.Height), C.uint32_t(c.Depth),
		C.uint32_t(c.ArraySize), C.uint32_t(c.LastLevel), C.uint32_t(c.NrSamples), C.uint32_t(c.Flags)))
}

func cResourceUnref(id uint32) { C.virgl_renderer_resource_unref(C.uint32_t(id)) }

// iovecs is a C array of iovecs over guest memory and the pins that keep
// Go-allocated pieces of it in place.
type iovecs struct {
	p   *C.struct_iovec
	n   int
	pin runtime.Pinner
}

// newIovecs describes backing (non-empty pieces only) in C memory.
func newIovecs(backing [][]byte) *iovecs {
	v := &iovecs{}
	n := 0
	for _, b := range backing {
		if len(b) > 0 {
			n++
		}
	}
	if n == 0 {
		return v
	}
	v.p = (*C.struct_iovec)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.struct_iovec{}))))
	arr := unsafe.Slice(v.p, n)
	i := 0
	for _, b := range backing {
		if len(b) == 0 {
			continue
		}
		v.pin.Pin(&b[0])
		arr[i].iov_base = unsafe.Pointer(&b[0])
		arr[i].iov_len = C.size_t(len(b))
		i++
	}
	v.n = n
	return v
}

// free releases the array and the pins; virglrenderer must no longer
// hold it.
func (v *iovecs) free() {
	if v.p != nil {
		C.free(unsafe.Pointer(v.p))
		v.p = nil
	}
	v.pin.Unpin()
}

func cAttachIOV(id uint32, v *iovecs) int {
	return int(C.virgl_renderer_resource_attach_iov(C.int(id), v.p, C.int(v.n)))
}

func cDetachIOV(id uint32) { C.govm_detach_iov(C.uint32_t(id)) }

// cTransfer moves box between resource id and its attached backing.
func cTransfer(write bool, id, ctx uint32, t gpu.TransferHost3D) int {
	w := C.int(0)
	if write {
		w = 1
	}
	b := t.Box
	return int(C.govm_transfer(w, C.uint32_t(id), C.uint32_t(ctx), C.uint32_t(t.Level), C.uint32_t(t.Stride),
		C.uint32_t(t.LayerStride), C.uint32_t(b.X), C.uint32_t(b.Y), C.uint32_t(b.Z), C.uint32_t(b.W),
		C.uint32_t(b.H), C.uint32_t(b.D), C.uint64_t(t.Offset), nil, 0))
}

// cReadInto reads rectangle r of level 0 of resource id into dst, rows
// stride bytes apart (dst holds r.Height rows).
func cReadInto(id uint32, r gpu.Rect, stride uint32, dst []byte) int {
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&dst[0])
	iov := C.struct_iovec{iov_base: unsafe.Pointer(&dst[0]), iov_len: C.size_t(len(dst))}
	return int(C.govm_transfer(0, C.uint32_t(id), 0, 0, C.uint32_t(stride), 0, C.uint32_t(r.X), C.uint32_t(r.Y), 0,
		C.uint32_t(r.Width), C.uint32_t(r.Height), 1, 0, &iov, 1))
}

// cSubmit runs cmd (a multiple of 4 bytes, not empty) in context ctx.
func cSubmit(ctx uint32, cmd []byte) int {
	return int(C.virgl_renderer_submit_cmd(unsafe.Pointer(&cmd[0]), C.int(ctx), C.int(len(cmd)/4)))
}

func cCreateFence(id uint32) int {
	return int(C.virgl_renderer_create_fence(C.int(int32(id)), 0))
}

func cContextCreateFence(ctx, ring uint32, id uint64) int {
	return int(C.virgl_renderer_context_create_fence(C.uint32_t(ctx), 0, C.uint32_t(ring), C.uint64_t(id)))
}
