// Command gendocs writes wifiq's man pages and shell completion scripts
// from the command tree, so they always match the flags.
//
// Usage: go run ./internal/gendocs -man man -completions completions
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra/doc"

	"github.com/wifiq/wifiq/commands"
)

func main() {
	manDir := flag.String("man", "man", "directory for the man pages")
	completionDir := flag.String("completions", "completions", "directory for the completion scripts")
	flag.Parse()
	if err := run(*manDir, *completionDir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(manDir, completionDir string) error {
	g := &commands.Globals{IO: commands.SystemIO()}
	root := commands.NewRoot(g, "")
	for _, dir := range []string{manDir, completionDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	header := &doc.GenManHeader{Title: "WIFIQ", Section: "1", Source: "wifiq", Manual: "wifiq manual"}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return err
	}
	for name, gen := range map[string]func(string) error{
		"wifiq.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"_wifiq":     root.GenZshCompletionFile,
		"wifiq.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
		"wifiq.ps1":  root.GenPowerShellCompletionFileWithDesc,
	} {
		if err := gen(filepath.Join(completionDir, name)); err != nil {
			return err
		}
	}
	return nil
}
