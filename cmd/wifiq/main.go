// Command wifiq decodes, streams and analyses 802.11 captures.
package main

import (
	"os"
	// Time zones for --tz work on machines without a zoneinfo database.
	_ "time/tzdata"

	"github.com/wifiq/wifiq/commands"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(commands.Main(version))
}
