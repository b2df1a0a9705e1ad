// gbm-linear.c: an LD_PRELOAD shim for bench/virgl.sh's native kmscube run.
//
// On a DRM device without a GPU (bochs-drm in the nested harness's L1),
// Mesa's GBM allocates kmscube's buffers through kms_swrast and reports
// their modifier as DRM_FORMAT_MOD_INVALID ("implicit layout"). kmscube
// hands any non-zero modifier to drmModeAddFB2WithModifiers with
// DRM_MODE_FB_MODIFIERS set; the kernel accepts that framebuffer, and the
// first drmModeSetCrtc fails with EINVAL ("Invalid pixel format XR24
// little-endian, modifier 0xffffffffffffff" in the DRM debug log): the
// plane only lists DRM_FORMAT_MOD_LINEAR. This shim reports "invalid" as 0
// (linear, which dumb buffers are), so kmscube adds the framebuffer without
// a modifier and the mode set works. Any real modifier passes through
// unchanged.
//
// Build: cc -shared -fPIC -O2 -o gbm-linear.so gbm-linear.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

// The two modifier values, from drm_fourcc.h (fourcc_mod_code(NONE, 0) and
// fourcc_mod_code(NONE, DRM_FORMAT_RESERVED)).
#define MOD_LINEAR UINT64_C(0)
#define MOD_INVALID UINT64_C(0x00ffffffffffffff)

struct gbm_bo;

typedef uint64_t (*get_modifier_fn)(struct gbm_bo *);

uint64_t gbm_bo_get_modifier(struct gbm_bo *bo)
{
	static get_modifier_fn real;
	uint64_t mod;

	if (real == NULL) {
		real = (get_modifier_fn)dlsym(RTLD_NEXT, "gbm_bo_get_modifier");
		if (real == NULL)
			return MOD_LINEAR;
	}
	mod = real(bo);
	return mod == MOD_INVALID ? MOD_LINEAR : mod;
}
