package commands

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/record"
)

// NewCmdSink builds the sink command, the parent of one subcommand per
// target system.
func NewCmdSink(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink TARGET",
		Short: "Write records into a database or search engine",
		Long: `Write records from files, standard input or a Kafka topic into another
system. Each target is a subcommand.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSinkPostgres(g))
	cmd.AddCommand(NewCmdSinkNeo4j(g))
	cmd.AddCommand(NewCmdSinkElasticsearch(g))
	return cmd
}

// rejectedMessage returns the summary of a sink run that rejected records.
// It names the dead-letter file, or points to the warnings in the log.
func rejectedMessage(rejected int64, deadLetter string) string {
	if deadLetter == "" {
		return fmt.Sprintf("%s rejected; the warnings above give the reasons (--dead-letter FILE keeps the records)", plural(rejected, "record"))
	}
	return fmt.Sprintf("%s rejected; they are in %s with the reasons", plural(rejected, "record"), deadLetter)
}

// openDeadLetter opens the --dead-letter file for appending, or returns nil
// when path is empty.
func openDeadLetter(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("unable to open the --dead-letter file: %w", err)
	}
	return f, nil
}

// batchSink is what sinkFiles needs of a sink.
type batchSink interface {
	Pending() int
	Flush(ctx context.Context) error
}

// sinkFiles reads the input files (standard input when there is none) into
// a sink with add, flushing every batchSize records and at the end. It
// returns the number of lines that were not records.
func sinkFiles(ctx context.Context, g *Globals, inputs []string, batchSize int, s batchSink, add func(*record.Record)) (int, error) {
	skipped, err := readSinkInputs(ctx, g, inputs, func(rec *record.Record) error {
		add(rec)
		if s.Pending() < batchSize {
			return nil
		}
		return s.Flush(ctx)
	})
	if err == nil {
		err = s.Flush(ctx)
	}
	return skipped, err
}

// sinkResult turns the end of a sink run into its exit: an interrupted
// --follow run is a normal end, rejected records and skipped lines a
// partial success.
func sinkResult(err error, follow bool, rejected int64, deadLetter string, skipped int) error {
	if errors.Is(err, context.Canceled) && follow {
		err = nil // interrupted: the end of a following read
	}
	switch {
	case err != nil:
		return err
	case rejected > 0:
		return partialError{rejectedMessage(rejected, deadLetter)}
	case skipped > 0:
		return partialError{skippedMessage(int64(skipped), "line")}
	}
	return nil
}
