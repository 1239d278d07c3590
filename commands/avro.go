package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wifiq/wifiq/avro"
	"github.com/wifiq/wifiq/kafka"
)

// RegistryOptions locate the Confluent-compatible schema registry that
// Avro values need. Only the URL is a flag: credentials come from the
// environment (see avro.LoadRegistrySettings).
type RegistryOptions struct {
	URL string
}

// registryHelp explains the registry settings in a command's long help.
const registryHelp = `
Avro values in the Confluent wire format (magic byte 0 and a schema ID) are
decoded with their schema from the schema registry at --registry (default
$WIFIQ_SCHEMA_REGISTRY_URL), such as http://127.0.0.1:8081 or an Apicurio
Registry's http://HOST:PORT/apis/ccompat/v7. Basic auth credentials come from
$WIFIQ_SCHEMA_REGISTRY_USER with $WIFIQ_SCHEMA_REGISTRY_PASSWORD or the file
named by $WIFIQ_SCHEMA_REGISTRY_PASSWORD_FILE, never from the command line.
`

func (o *RegistryOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.URL, "registry", "", "schema registry `URL` for Avro values (default $WIFIQ_SCHEMA_REGISTRY_URL)")
}

// open returns a client of the registry, or nil when none is set. Invalid
// settings are usage errors.
func (o *RegistryOptions) open() (*avro.Registry, error) {
	settings, err := avro.LoadRegistrySettings(o.URL)
	if err != nil {
		return nil, usageError{err}
	}
	if settings.URL == "" {
		return nil, nil
	}
	return avro.NewRegistry(settings)
}

// decoder returns the decoder of Avro values, or nil when no registry is
// set, in which case an Avro value stops the read with a clear error.
func (o *RegistryOptions) decoder() (kafka.ValueDecoder, error) {
	registry, err := o.open()
	if registry == nil || err != nil {
		return nil, err
	}
	return avro.NewDecoder(registry), nil
}

// explainRegistryError adds what to set to the error of an Avro value read
// without a registry.
func explainRegistryError(err error) error {
	if errors.Is(err, kafka.ErrNoSchemaRegistry) {
		return fmt.Errorf("%w: set $%s (or --registry, where the command has it) to the registry's URL", err, avro.EnvURL)
	}
	return err
}

// newRecordReader returns a reader of the consumer's records that decodes
// Avro values with decoder, which may be nil when no registry is set.
func newRecordReader(consumer *kafka.Consumer, decoder kafka.ValueDecoder) *kafka.RecordReader {
	reader := kafka.NewRecordReader(consumer)
	reader.SetValueDecoder(decoder)
	return reader
}

// decodeTransformValue replaces m.Value, when it is Avro in the Confluent
// wire format, with its record JSON, decoded with decoder into *buf. A value
// that cannot be decoded is logged, counted in *skipped and skipped. Other
// errors, such as a missing registry, stop the run.
func decodeTransformValue(ctx context.Context, g *Globals, decoder kafka.ValueDecoder, m *kafka.Message, buf *[]byte, skipped *int64) (skip bool, err error) {
	if !kafka.IsFramedValue(m.Value) {
		return false, nil
	}
	decoded, err := kafka.DecodeFramed(ctx, decoder, *m, (*buf)[:0])
	if err != nil {
		var valueErr *kafka.ValueError
		if !errors.As(err, &valueErr) {
			return false, explainRegistryError(err)
		}
		*skipped++
		logValueError(g, valueErr, int(*skipped))
		return true, nil
	}
	*buf = decoded
	m.Value = decoded
	return false, nil
}
