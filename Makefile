# sio — the two commands a newcomer needs:
#   make demo   runs the chat demo on http://127.0.0.1:8080
#   make test   runs every test (installs the npm packages first)

GO      ?= go
# A count, not a duration: with a duration, go test's fuzz coordinator can
# report the deadline itself as a failure ("context deadline exceeded", no
# crasher written) when a worker is busy as time runs out. A count has no
# deadline to race; 300000 inputs take a few seconds per target here.
FUZZTIME ?= 300000x
# Each new input worth keeping is minimized first, for up to a minute by
# default: with targets that run a server per input that stalled runs.
FUZZMINIMIZE ?= 500x
# Each fuzz target, as package:Target, or package:Target:count for one
# slower than the codecs (a whole server session or call per input).
FUZZ_TARGETS = \
	./runtime/engineio/eiopacket:FuzzDecodePayload \
	./runtime/engineio/eiopacket:FuzzDecodeText \
	./runtime/engineio/eiopacket:FuzzDecodePayloadV3 \
	./runtime/socketio/siopacket:FuzzDecodeText \
	./runtime/socketio/siopacket:FuzzScanPlaceholders \
	./runtime/socketio/siopacket:FuzzSplitArray \
	./runtime/socketio/siopacket:FuzzSplitArrayMalformed \
	./runtime/socketio/siopacket:FuzzValidJSON \
	./runtime/socketio/siopacket:FuzzEncodeValidUTF8:100000x \
	./runtime/socketio/siopacket:FuzzEncodingMatchesEncodingJSON:30000x \
	./runtime/socketio/siopacket:FuzzRandomTypesMatchEncodingJSON:20000x \
	./runtime/socketio/siopacket:FuzzDecodeMsgpack \
	./runtime/socketio/siopacket:FuzzMsgpackFromJSON \
	./runtime/engineio:FuzzClientPolling:20000x \
	./runtime/engineio:FuzzOwnFrameReader \
	./runtime/socketio:FuzzServerPolling:30000x \
	./runtime/socketio:FuzzServerPollingV3:20000x \
	./runtime/socketio:FuzzServerPollingMessagePack:30000x \
	./runtime/rpc:FuzzCallArguments:20000x \
	./runtime/clusteradapter:FuzzOnMessage:50000x \
	./runtime/redisstreamsadapter:FuzzDecodeEntry \
	./runtime/redisstreamsadapter:FuzzDecodePubSub \
	./runtime/postgresadapter:FuzzDecodeNotification \
	./runtime/postgresadapter:FuzzDecodeAttachment

.PHONY: demo test lint gotest fuzz attack bench peers generate checkgenerate bundle checkbundle nodeclient conformance

demo:
	$(GO) run ./examples/chat

test: node_modules/.installed lint checkgenerate checkbundle gotest fuzz peers

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint:
	bash scripts/vet.sh
	$(GO) build -o .tmp/bin/siovet ./internal/houserules/cmd/siovet
	$(GO) vet -vettool=.tmp/bin/siovet ./...
	node_modules/.bin/buf lint
	node_modules/.bin/tsc -p tsconfig.json
	node_modules/.bin/tsc -p runtime/ts/tsconfig.json --noEmit
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped (CI installs it)"; fi

gotest:
	$(GO) test -race -count=1 ./...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; budget=$(FUZZTIME); \
		case $$name in *:*) budget=$${name#*:}; name=$${name%%:*};; esac; \
		echo "fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$budget -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg || exit 1; \
	done

# attack runs the reliability suite (internal/attack) at the sizes of the
# issue it answers (make test runs a bounded form): a separate server
# process under slowloris, slow bodies, floods, stuck clients, broker
# faults. Each attack prints its result as a FIGURE line.
attack:
	SIO_ATTACK_FULL=1 $(GO) test -race -count=1 -v -timeout 30m ./internal/attack/ | grep -E '^(=== RUN|--- |\s+.*FIGURE|ok|FAIL|PASS)'

# generate rewrites gen/ from proto/ (buf with local plugins only), and
# the TypeScript runtime package's copy of sio's option descriptors.
generate: node_modules/.installed
	node_modules/.bin/buf generate
	node_modules/.bin/buf generate --template buf.gen.runtime.yaml --path proto/sio/v1/options.proto

# checkgenerate fails if gen/ is not what generate produces.
checkgenerate: generate
	@if [ -n "$$(git status --porcelain -- gen runtime/ts/src/gen)" ]; then \
		echo "gen/ is out of date: run make generate and commit the result"; git status --porcelain -- gen runtime/ts/src/gen; exit 1; \
	fi

# bundle rebuilds the chat page's script (committed, so that go build and
# go run ./examples/chat need no Node).
bundle: node_modules/.installed
	node_modules/.bin/esbuild examples/chat/chatapp/web/app.ts --bundle --format=esm --target=es2020 \
		--minify --legal-comments=none --log-level=warning --outfile=examples/chat/chatapp/web/dist/app.js

checkbundle: bundle
	@if [ -n "$$(git status --porcelain -- examples/chat/chatapp/web/dist)" ]; then \
		echo "examples/chat/chatapp/web/dist is out of date: run make bundle and commit the result"; exit 1; \
	fi

# nodeclient runs the Node/TypeScript client example against a chat server.
URL ?= http://127.0.0.1:8080
nodeclient: node_modules/.installed
	@mkdir -p .tmp
	node_modules/.bin/esbuild examples/nodeclient/main.ts --bundle --platform=node --format=esm \
		--packages=external --log-level=warning --outfile=.tmp/nodeclient.mjs
	node .tmp/nodeclient.mjs $(URL)

# conformance serves the endpoints of the official protocol test suites.
conformance:
	$(GO) run ./examples/conformance -addr 127.0.0.1:3000

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./runtime/...

# peers checks bench/peers, the benchmark's peers in a module of their own
# (./... at the root does not reach it): vet, and the table and chart
# writer's tests on a fixed sample. It runs no benchmark.
peers:
	cd bench/peers && $(GO) vet ./... && $(GO) test -count=1 ./...
