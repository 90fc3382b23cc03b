module galley/netshaper

go 1.22
