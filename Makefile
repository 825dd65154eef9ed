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

.PHONY: demo test lint gotest fuzz bench generate checkgenerate

demo:
	$(GO) run ./examples/conformance -addr 127.0.0.1:3000

test: node_modules/.installed lint checkgenerate gotest fuzz

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint:
	bash scripts/vet.sh
	node_modules/.bin/buf lint
	node_modules/.bin/tsc -p tsconfig.json
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

# generate rewrites gen/ from proto/ (buf with local plugins only).
generate: node_modules/.installed
	node_modules/.bin/buf generate

# checkgenerate fails if gen/ is not what generate produces.
checkgenerate: generate
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is out of date: run make generate and commit the result"; git status --porcelain -- gen; exit 1; \
	fi

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./runtime/...
