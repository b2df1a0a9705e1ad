package gpu

// FenceFunc is how a Backend3D reports signalled fences: fence fenceID of
// the timeline (ctxID, ringIdx) has signalled, and with it every earlier
// fence of that timeline. Timeline (0, 0) is the device-wide one. It may
// be called from any goroutine but must not be called while a Backend3D
// method is running on behalf of the Device (the Device's lock is held
// then): a backend queues fences and reports them from a goroutine of its
// own.
type FenceFunc func(ctxID, ringIdx uint32, fenceID uint64)

// Backend3D is a Backend that also runs the 3D commands (virgl). As with
// Backend, the Device checks every guest value first: contexts and
// resources exist, boxes lie within their resource's mip level, sizes are
// bounded; an error from a Backend3D method becomes an error response.
// A Device whose Options.Backend implements Backend3D offers
// VIRTIO_GPU_F_VIRGL and VIRTIO_GPU_F_CONTEXT_INIT.
type Backend3D interface {
	Backend
	// SetFenceHandler is called once, by New, before any other method.
	SetFenceHandler(f FenceFunc)

	// NumCapsets is the number of capability sets (num_capsets).
	NumCapsets() uint32
	// GetCapsetInfo describes capset number index (< NumCapsets).
	GetCapsetInfo(index uint32) (id, maxVersion, maxSize uint32, err error)
	// GetCapset returns capset id at version (<= its maxVersion); at most
	// its maxSize bytes.
	GetCapset(id, version uint32) ([]byte, error)

	// CreateContext makes context ctxID (not 0, not in use). contextInit
	// is CTX_CREATE's context_init: 0, or a capset id in its low byte.
	CreateContext(ctxID uint32, name string, contextInit uint32) error
	DestroyContext(ctxID uint32)
	ContextAttachResource(ctxID, resourceID uint32)
	ContextDetachResource(ctxID, resourceID uint32)

	// CreateResource3D makes resource c.ResourceID (new, not 0).
	CreateResource3D(c ResourceCreate3D) error
	// AttachBacking gives a resource (2D or 3D) the guest memory that
	// transfers read and write, as slices aliasing guest memory; the
	// backend may keep them until DetachBacking or Unref.
	AttachBacking(resourceID uint32, backing [][]byte) error
	DetachBacking(resourceID uint32)
	// TransferToHost3D copies t.Box of the backing into the resource;
	// TransferFromHost3D the other way. ctxID is 0 or a context.
	TransferToHost3D(ctxID uint32, t TransferHost3D) error
	TransferFromHost3D(ctxID uint32, t TransferHost3D) error
	// Submit3D runs a command buffer (a whole number of 32-bit words, at
	// most MaxSubmitBytes) in context ctxID. cmd is the device's copy.
	Submit3D(ctxID uint32, cmd []byte) error
	// CreateFence asks for fenceID to be reported through the FenceFunc
	// once the work submitted so far on timeline (ctxID, ringIdx) is done.
	// fenceIDs are the Device's own, increasing.
	CreateFence(ctxID, ringIdx uint32, fenceID uint64) error
}
