package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ClientOptions turns the connection settings into franz-go options: seed
// brokers, client id, TLS and SASL. Producer and consumer settings are added
// by NewProducer and NewConsumer. log receives the client library's own
// messages; nil discards them.
func (c *Config) ClientOptions(log *slog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
	}
	if log != nil {
		opts = append(opts, kgo.WithLogger(logger{log}))
	}
	if c.ClientRack != "" {
		opts = append(opts, kgo.Rack(c.ClientRack))
	}
	if c.DialTimeout > 0 {
		opts = append(opts, kgo.DialTimeout(c.DialTimeout))
	}
	if c.MetadataMaxAge > 0 {
		opts = append(opts, kgo.MetadataMaxAge(c.MetadataMaxAge))
	}
	if c.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if c.UsesTLS() {
		tlsConfig, err := c.TLSConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsConfig))
	}
	if c.UsesSASL() {
		mechanism, err := c.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

// NewClient connects a franz-go client with the connection settings and any
// further options. It does not wait for a connection; see Ping.
func (c *Config) NewClient(log *slog.Logger, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.ClientOptions(log)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("unable to create Kafka client: %w", err)
	}
	return client, nil
}

// Ping checks that a broker responds and, with SASL, that authentication
// succeeds, so a wrong address or password fails at once with a clear
// message.
func Ping(ctx context.Context, client *kgo.Client, c *Config) error {
	if err := client.Ping(ctx); err != nil {
		return fmt.Errorf("unable to reach Kafka at %s (security.protocol %s): %w", strings.Join(c.Brokers, ","), c.SecurityProtocol, err)
	}
	return nil
}

// TLSConfig builds the TLS settings: the CA file (else the system pool),
// an optional client certificate, and the two verification switches.
func (c *Config) TLSConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.SSLCALocation != "" {
		pool, err := readCAFile(c.SSLCALocation)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.SSLCertificateLocation != "" || c.SSLKeyLocation != "" {
		cert, err := readKeyPair(c.SSLCertificateLocation, c.SSLKeyLocation)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch {
	case !c.SSLVerifyCertificates:
		tc.InsecureSkipVerify = true
	case !c.SSLVerifyHostname:
		// Go checks the host name as part of chain verification, so the
		// chain is verified here without it.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = verifyChainOnly(tc.RootCAs)
	}
	return tc, nil
}

func readCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to read ssl.ca.location: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("invalid ssl.ca.location %s: no PEM certificate found", path)
	}
	return pool, nil
}

func readKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	if certPath == "" || keyPath == "" {
		return tls.Certificate{}, errors.New("a client certificate needs both ssl.certificate.location and ssl.key.location")
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to read ssl.certificate.location: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to read ssl.key.location: %w", err)
	}
	if block, _ := pem.Decode(keyPEM); block != nil && (block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "") {
		return tls.Certificate{}, fmt.Errorf("ssl.key.location %s is encrypted: decrypt it (openssl pkey -in KEY -out KEY.pem) and point ssl.key.location at the result", keyPath)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("invalid client certificate %s with key %s: %w", certPath, keyPath, err)
	}
	return cert, nil
}

// verifyChainOnly checks the broker's certificate chain against roots (the
// system pool when nil) but not the host name, as
// ssl.endpoint.identification.algorithm=none requests.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the broker sent no TLS certificate")
		}
		intermediates := x509.NewCertPool()
		for _, cert := range cs.PeerCertificates[1:] {
			intermediates.AddCert(cert)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates})
		return err
	}
}

func (c *Config) saslMechanism() (sasl.Mechanism, error) {
	user, password := c.SASLUsername, c.SASLPassword.Reveal()
	switch c.SASLMechanism {
	case MechanismPlain:
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	case MechanismSCRAMSHA256:
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	case MechanismSCRAMSHA512:
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("invalid sasl.mechanism %q: want one of %s, %s, %s", c.SASLMechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
}

// logger passes franz-go's messages to slog at the same level. franz-go logs
// a retry (a broker that cannot be reached, a leader that moved) as a
// warning.
type logger struct{ log *slog.Logger }

func (l logger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.log.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (l logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	slogLevel := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		slogLevel = slog.LevelError
	case kgo.LogLevelWarn:
		slogLevel = slog.LevelWarn
	case kgo.LogLevelInfo:
		slogLevel = slog.LevelInfo
	}
	l.log.Log(context.Background(), slogLevel, "kafka client: "+msg, keyvals...)
}
