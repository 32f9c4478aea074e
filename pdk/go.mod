module github.com/authhost/authhost/pdk

go 1.25.0

require (
	github.com/authhost/authhost/abi v0.0.0
	github.com/extism/go-pdk v1.1.3
)

replace github.com/authhost/authhost/abi => ../abi
