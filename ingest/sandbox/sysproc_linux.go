package sandbox

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts a worker in a process group of its own, so that the
// programs it starts (pdftoppm and tesseract for OCR) are killed with
// it, and kills it when the process that started it dies, so that no
// worker outlives an ingest that was itself killed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills a worker's process group: the worker and whatever it
// started.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
