package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddressPrefix starts a topic address in --from and --to: "kafka:TOPIC".
const AddressPrefix = "kafka:"

// ParseAddress returns the topic of a "kafka:TOPIC" address. ok is false
// when s is not a Kafka address (a file name, "-"), and err is set when it
// is one with an invalid topic name.
func ParseAddress(s string) (topic string, ok bool, err error) {
	if !strings.HasPrefix(s, AddressPrefix) {
		return "", false, nil
	}
	topic = strings.TrimPrefix(s, AddressPrefix)
	if err := ValidateTopic(topic); err != nil {
		return "", true, err
	}
	return topic, true, nil
}

// maxTopicLength is Kafka's limit on topic names.
const maxTopicLength = 249

// ValidateTopic checks a name against Kafka's rules: 1 to 249 characters
// from a-z, A-Z, 0-9, ".", "_" and "-", and not "." or "..".
func ValidateTopic(name string) error {
	if name == "" {
		return errors.New("missing topic name")
	}
	if len(name) > maxTopicLength {
		return fmt.Errorf("invalid topic name %q: longer than %d characters", name, maxTopicLength)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("invalid topic name %q", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("invalid topic name %q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// TopicSpec describes a topic to create. Zero Partitions or
// ReplicationFactor take the broker's num.partitions and
// default.replication.factor.
type TopicSpec struct {
	Partitions        int32
	ReplicationFactor int16
	// Configs are topic settings such as retention.ms.
	Configs map[string]string
}

// ErrTopicNotFound matches (with errors.Is) the error for a topic that
// does not exist.
var ErrTopicNotFound = errors.New("topic not found")

type topicNotFoundError struct{ topic string }

func (e topicNotFoundError) Error() string        { return "topic " + e.topic + " does not exist" }
func (e topicNotFoundError) Is(target error) bool { return target == ErrTopicNotFound }

// CreateTopic creates topic with spec. A topic that already exists is left
// as it is, and created reports false.
func CreateTopic(ctx context.Context, client *kgo.Client, topic string, spec TopicSpec) (created bool, err error) {
	partitions, replicas := spec.Partitions, spec.ReplicationFactor
	if partitions <= 0 {
		partitions = -1
	}
	if replicas <= 0 {
		replicas = -1
	}
	configs := make(map[string]*string, len(spec.Configs))
	for k, v := range spec.Configs {
		configs[k] = kadm.StringPtr(v)
	}
	resp, err := kadm.NewClient(client).CreateTopic(ctx, partitions, replicas, configs, topic)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return false, nil
	}
	if err != nil {
		if resp.ErrMessage != "" {
			return false, fmt.Errorf("unable to create topic %s: %w: %s", topic, err, resp.ErrMessage)
		}
		return false, fmt.Errorf("unable to create topic %s: %w", topic, err)
	}
	return true, nil
}

// Retries of a metadata request that does not find the topic. A broker
// learns of a new topic asynchronously, so a topic created a moment ago by
// another client can be missing from its first metadata response.
const (
	topicLookupTries = 4
	topicLookupDelay = 250 * time.Millisecond
)

// partitionsOf returns the partition numbers of topic, or an error matching
// ErrTopicNotFound.
func partitionsOf(ctx context.Context, client *kgo.Client, topic string) ([]int32, error) {
	for try := 1; ; try++ {
		req := kmsg.NewPtrMetadataRequest()
		requestTopic := kmsg.NewMetadataRequestTopic()
		requestTopic.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, requestTopic)
		resp, err := req.RequestWith(ctx, client)
		if err != nil {
			return nil, fmt.Errorf("unable to read the metadata of topic %s: %w", topic, err)
		}

		var topicErr error = kerr.UnknownTopicOrPartition
		var partitions []int32
		for _, t := range resp.Topics {
			if t.Topic == nil || *t.Topic != topic {
				continue
			}
			topicErr = kerr.ErrorForCode(t.ErrorCode)
			for _, p := range t.Partitions {
				partitions = append(partitions, p.Partition)
			}
		}
		switch {
		case topicErr == nil:
			return partitions, nil
		case !errors.Is(topicErr, kerr.UnknownTopicOrPartition):
			return nil, fmt.Errorf("unable to read the metadata of topic %s: %w", topic, topicErr)
		case try == topicLookupTries:
			return nil, topicNotFoundError{topic}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(topicLookupDelay):
		}
	}
}
