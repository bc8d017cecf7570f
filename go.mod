module github.com/gobeaker/beaker

go 1.25
