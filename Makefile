# saasconform — common tasks. `make test` is what CI runs.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 60s
BIN     ?= bin/saasconform
TARGET  ?= fixtures/targets/reference-publisher.yaml

.PHONY: test lint bench fuzz tidy build conformance mutants

## test: vet, formatting, and every test with the race detector
test: lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## build: the saasconform command, into $(BIN)
build:
	$(GO) build -o $(BIN) ./cmd/saasconform

## conformance: run every suite against the reference publisher (TARGET);
## reports in reports/ (junit.xml, report.json, violations.json, publisher.log)
conformance: build
	$(BIN) run -c $(TARGET) --junit reports/junit.xml --json reports/report.json

## mutants: the mutant matrix, printed; also written to reports/mutants.md
mutants:
	mkdir -p reports
	SAASCONFORM_MATRIX_OUT=$(CURDIR)/reports $(GO) test -count=1 -v -run TestMutantMatrix ./mutants/ > reports/mutants.log 2>&1; \
	  status=$$?; grep -E '^\s+\||kill rate|SURVIVED|^(ok|FAIL|---)' reports/mutants.log; exit $$status

## lint: gofmt and go vet must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## bench: the Go benchmarks, then every load target (serve's fakes over
## loopback HTTPS, in memory and with -state) in one table
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./bench/load -targets -duration 5s

## fuzz: fuzz the fake marketplace handler for FUZZTIME (default 60s)
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzMarketplace -fuzztime $(FUZZTIME) ./harness/contract/

tidy:
	$(GO) mod tidy
