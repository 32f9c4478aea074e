module github.com/authhost/authhost/pdk

go 1.26.0

require (
	github.com/authhost/authhost/abi v0.0.0
	github.com/extism/go-pdk v1.1.3
)

require (
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/authhost/authhost/abi => ../abi
