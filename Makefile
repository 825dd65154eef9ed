# sio — the two commands a newcomer needs:
#   make demo   runs the demo server
#   make test   runs every test (installs the npm test peers first)

GO      ?= go
FUZZTIME ?= 5s
# Each fuzz target, as package:Target.
FUZZ_TARGETS = \
	./runtime/engineio/eiopacket:FuzzDecodePayload \
	./runtime/engineio/eiopacket:FuzzDecodeText \
	./runtime/socketio/siopacket:FuzzDecodeText

.PHONY: demo test lint gotest fuzz bench conformance

demo:
	$(GO) run ./examples/conformance -addr 127.0.0.1:3000

test: node_modules/.installed lint gotest fuzz

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint:
	bash scripts/vet.sh
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped (CI installs it)"; fi

gotest:
	$(GO) test -race -count=1 ./...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./runtime/...
