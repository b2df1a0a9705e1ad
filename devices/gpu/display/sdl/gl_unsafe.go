//go:build cgo

package sdl

// The window's GL mode (Options.GL) draws with a few raw EGL and GL calls,
// made on the main thread with the window's context current. It is unsafe
// only where it hands C a pointer: glUpload passes the pixels of a Go
// []byte (no Go pointers inside) for the duration of the call, and GL
// copies them before it returns. Every other value is a number.

/*
#cgo pkg-config: epoxy
#include <stdint.h>
#include <epoxy/gl.h>
#include <epoxy/egl.h>

// govm_egl_current describes the EGL context current on this thread. It
// returns 0 if there is none (SDL drew the context with GLX, say).
static int govm_egl_current(uintptr_t *dpy, uintptr_t *cfg, uintptr_t *ctx) {
	EGLDisplay d = eglGetCurrentDisplay();
	EGLContext c = eglGetCurrentContext();
	if (d == EGL_NO_DISPLAY || c == EGL_NO_CONTEXT)
		return 0;
	EGLint id = 0, n = 0;
	EGLConfig conf;
	if (!eglQueryContext(d, c, EGL_CONFIG_ID, &id))
		return 0;
	EGLint attrs[] = { EGL_CONFIG_ID, id, EGL_NONE };
	if (!eglChooseConfig(d, attrs, &conf, 1, &n) || n != 1)
		return 0;
	*dpy = (uintptr_t)d;
	*cfg = (uintptr_t)conf;
	*ctx = (uintptr_t)c;
	return 1;
}

static GLuint govm_fbo, govm_cpu_tex;

// govm_blit clears the window (w x h pixels) to black and, if tex is not
// 0, draws its rectangle (sx0,sy0)-(sx1,sy1) onto (dx0,dy0)-(dx1,dy1),
// all in GL's bottom-up coordinates, scaled linearly.
static void govm_blit(GLuint tex, int sx0, int sy0, int sx1, int sy1,
		int dx0, int dy0, int dx1, int dy1, int w, int h) {
	glBindFramebuffer(GL_FRAMEBUFFER, 0);
	glViewport(0, 0, w, h);
	glClearColor(0, 0, 0, 1);
	glClear(GL_COLOR_BUFFER_BIT);
	if (!tex)
		return;
	if (!govm_fbo)
		glGenFramebuffers(1, &govm_fbo);
	glBindFramebuffer(GL_READ_FRAMEBUFFER, govm_fbo);
	glFramebufferTexture2D(GL_READ_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
	if (glCheckFramebufferStatus(GL_READ_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE)
		glBlitFramebuffer(sx0, sy0, sx1, sy1, dx0, dy0, dx1, dy1, GL_COLOR_BUFFER_BIT, GL_LINEAR);
	// Let go of the texture: the guest may delete it before the next draw.
	glFramebufferTexture2D(GL_READ_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, 0, 0);
	glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
}

// govm_upload puts w x h RGBA pixels into the window's own texture.
static GLuint govm_upload(const void *pix, int w, int h) {
	if (!govm_cpu_tex)
		glGenTextures(1, &govm_cpu_tex);
	glBindTexture(GL_TEXTURE_2D, govm_cpu_tex);
	glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, pix);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
	glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
	glBindTexture(GL_TEXTURE_2D, 0);
	return govm_cpu_tex;
}

static void govm_gl_release(void) {
	if (govm_fbo)
		glDeleteFramebuffers(1, &govm_fbo);
	if (govm_cpu_tex)
		glDeleteTextures(1, &govm_cpu_tex);
	govm_fbo = govm_cpu_tex = 0;
}
*/
import "C"

import "unsafe"

// eglCurrent returns the current EGL display, a config matching the
// current context, and the context; ok is false if no EGL context is
// current on this thread.
func eglCurrent() (dpy, cfg, ctx uintptr, ok bool) {
	var d, c, x C.uintptr_t
	if C.govm_egl_current(&d, &c, &x) == 0 {
		return 0, 0, 0, false
	}
	return uintptr(d), uintptr(c), uintptr(x), true
}

// glBlit clears the w x h window and draws src of texture tex onto dst
// (GL coordinates: y grows upwards; a reversed range flips).
func glBlit(tex uint32, src, dst [4]int, w, h int) {
	C.govm_blit(C.GLuint(tex), C.int(src[0]), C.int(src[1]), C.int(src[2]), C.int(src[3]),
		C.int(dst[0]), C.int(dst[1]), C.int(dst[2]), C.int(dst[3]), C.int(w), C.int(h))
}

// glUpload copies w x h RGBA pixels (len(pix) == w*h*4, not empty) into
// the window's texture and returns its name.
func glUpload(pix []byte, w, h int) uint32 {
	return uint32(C.govm_upload(unsafe.Pointer(&pix[0]), C.int(w), C.int(h)))
}

// glRelease deletes the window's GL objects.
func glRelease() { C.govm_gl_release() }
