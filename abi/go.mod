module github.com/authhost/authhost/abi

go 1.24.0
