# wifiq: build, test and measure. `make help` lists the targets.

GO       ?= go
BIN      := bin/wifiq
PREFIX   ?= /usr/local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s
# Where the server scripts (scripts/kafka.sh, postgres.sh, ...) write the
# settings of the servers they started.
KAFKA_ENV ?= /tmp/wifiq-servers/kafka/env
POSTGRES_ENV ?= /tmp/wifiq-servers/postgres/env
OPENSEARCH_ENV ?= /tmp/wifiq-servers/opensearch/env
NEO4J_ENV ?= /tmp/wifiq-servers/neo4j/env
REGISTRY_ENV ?= /tmp/wifiq-servers/registry/env
SERVER_ENVS := $(KAFKA_ENV) $(POSTGRES_ENV) $(OPENSEARCH_ENV) $(NEO4J_ENV) $(REGISTRY_ENV)

.PHONY: help build install test test-short servers servers-stop tshark-agreement fuzz bench bench-decode bench-kafka bench-query bench-stats bench-postgres bench-elasticsearch bench-neo4j bench-split bench-enrich bench-go manuf completions lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build bin/wifiq
	$(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wifiq

install: build ## install bin/wifiq, its man pages and completions under PREFIX (default /usr/local)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/wifiq
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 completions/wifiq.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/wifiq
	install -D -m 0644 completions/_wifiq $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_wifiq
	install -D -m 0644 completions/wifiq.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/wifiq.fish

test: servers ## run every test, against the local servers (started if needed)
	set -a && for f in $(SERVER_ENVS); do . $$f; done && set +a && $(GO) test -count=1 -timeout 30m ./...

test-short: ## run the tests that need no server (in-process fakes only)
	$(GO) test -count=1 ./...

servers: ## start the local test servers (Kafka, schema registry, PostgreSQL, OpenSearch, Neo4j)
	scripts/kafka.sh start
	scripts/registry.sh start
	scripts/postgres.sh start
	scripts/opensearch.sh start
	scripts/neo4j.sh start

servers-stop: ## stop the local test servers
	scripts/kafka.sh stop
	scripts/postgres.sh stop
	scripts/opensearch.sh stop
	scripts/neo4j.sh stop
	scripts/registry.sh stop

tshark-agreement: ## compare wifiq with tshark on every capture in testdata, field by field
	WIFIQ_REQUIRE_TSHARK=1 $(GO) test -count=1 -run TestTsharkAgreement -v ./replay/

fuzz: ## fuzz the decoder and the record reader for FUZZTIME each
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./capture/
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./record/

bench: bench-decode bench-kafka bench-query bench-stats bench-postgres bench-elasticsearch bench-neo4j bench-split bench-enrich ## every benchmark next to its reference tool (needs the local broker; 2.3 GB in testdata/bench, make clean removes it)

bench-decode: ## decode 1,000,000+ frames with wifiq and with tshark and print the ratio
	scripts/bench-decode.sh

bench-kafka: servers ## replay-pcap --to kafka and produce next to tshark | jq | kcat -P
	scripts/bench-kafka.sh

bench-query: ## a query over the 1,000,000+-frame capture, cold and cached, next to tshark | sort | uniq -c
	scripts/bench-query.sh

bench-stats: ## stats devices and fingerprint next to DuckDB (one thread), and memory with 100,000 keys
	scripts/bench-stats.sh

bench-postgres: servers ## wifiq sink postgres on 1,000,000 records next to one INSERT per row (on 100,000)
	scripts/bench-postgres.sh

bench-elasticsearch: servers ## wifiq sink elasticsearch next to one request per document, on 1,000,000 records
	scripts/bench-elasticsearch.sh

bench-neo4j: ## records/s into Neo4j: UNWIND batches next to one transaction per record (starts its own server)
	scripts/bench-neo4j.sh

bench-split: servers ## split 1,000,000 records through the broker, JSON values next to Avro values
	scripts/bench-split.sh

bench-enrich: servers ## enrich 1,000,000 probe requests topic to topic and from a file, next to kcat | jq | kcat and jq
	scripts/bench-enrich.sh

bench-go: ## run the Go benchmarks (ns and allocations per frame and per record)
	$(GO) test -run '^$$' -bench . -benchmem ./capture/
	$(GO) test -run '^$$' -bench DeviceTable -benchmem ./ops/

manuf: ## regenerate the built-in manufacturer table from Debian's ieee-data
	$(GO) run ./capture/internal/mkmanuf -dir /usr/share/ieee-data -o capture/manuf.txt.gz -compare /usr/share/wireshark/manuf

completions: ## regenerate the man pages in man/ and the shell completions in completions/
	$(GO) run ./internal/gendocs -man man -completions completions

lint: ## go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "run gofmt -w ."; exit 1; }

clean: ## remove build output and benchmark captures
	rm -rf bin testdata/bench
