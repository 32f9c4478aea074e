package wasmenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnePlace checks that the build command is not restated anywhere it
// could drift: the Taskfile takes it from cmd/wasmenv and the guide states
// exactly Command's output.
func TestOnePlace(t *testing.T) {
	root := filepath.Join("..", "..")
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	task := read("Taskfile.yml")
	for _, want := range []string{"go run ./internal/wasmenv/cmd/wasmenv -env", "go run ./internal/wasmenv/cmd/wasmenv\n"} {
		if !strings.Contains(task, want) {
			t.Errorf("Taskfile.yml does not take its build environment from %q", want)
		}
	}
	if strings.Contains(task, "-buildmode=c-shared") {
		t.Error("Taskfile.yml restates -buildmode=c-shared instead of using WASM_BUILD")
	}
	if want := Command("./examples/hello", "plugins/hello.wasm"); !strings.Contains(read("docs/writing-a-provider.md"), want) {
		t.Errorf("docs/writing-a-provider.md does not state %q", want)
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct{ pkg, out, want string }{
		{"./examples/hello", "plugins/hello.wasm", "GOOS=wasip1 GOARCH=wasm GOEXPERIMENT=jsonv2 go build -buildmode=c-shared -trimpath -o plugins/hello.wasm ./examples/hello"},
		{".", "x.wasm", "GOOS=wasip1 GOARCH=wasm GOEXPERIMENT=jsonv2 go build -buildmode=c-shared -trimpath -o x.wasm ."},
	} {
		if got := Command(tc.pkg, tc.out); got != tc.want {
			t.Errorf("Command(%q, %q) = %q, want %q", tc.pkg, tc.out, got, tc.want)
		}
	}
}

// TestCmdPrints checks the Taskfile's view: cmd/wasmenv prints the same
// environment and flags.
func TestCmdPrints(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-env"}, strings.Join(Env(), " ")},
		{nil, strings.Join(Env(), " ") + " go build " + strings.Join(BuildFlags, " ")},
	} {
		out, err := exec.Command("go", append([]string{"run", "./cmd/wasmenv"}, tc.args...)...).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("wasmenv %v = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
}
