//go:build !linux

package engine

import (
	"errors"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// mappedImage is the copy-on-write snapshot memory of Linux; elsewhere a
// restored instance's memory is a copy of the image (imageMemory).
type mappedImage struct{}

func newMappedImage([]byte) (*mappedImage, error) {
	return nil, errors.New("copy-on-write snapshot memory needs linux")
}

func (*mappedImage) memory(*atomic.Bool) experimental.MemoryAllocator { return &imageMemory{} }

func (*mappedImage) read() ([]byte, error) {
	return nil, errors.New("copy-on-write snapshot memory needs linux")
}
