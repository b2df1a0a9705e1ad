package virtio

// NeedEvent exposes needEvent to the external tests.
var NeedEvent = needEvent
