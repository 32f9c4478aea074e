module github.com/authhost/authhost/abi

go 1.25.0
