// This file only fences web/ off from the Go module at the root: npm packages installed
// under web/react-hook/node_modules may ship Go sources (flatted does), which `go test
// ./...`, `go vet ./...` and staticcheck would otherwise build and count as ours.
module github.com/wssync/wssync/web

go 1.26
