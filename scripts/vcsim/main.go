// Command vcsim is nimbostack's small launcher for govmomi's vSphere API simulator.
//
// It is built offline (GOPATH mode) from Debian's golang-github-vmware-govmomi-dev,
// which ships the simulator package but not upstream's vcsim main; see
// scripts/vcsim-start.sh. Once the server listens it prints one line,
//
//	VCSIM_URL=https://user:pass@127.0.0.1:8989/sdk
//
// and then serves until SIGINT/SIGTERM, when it closes the server and removes the
// model's temporary datastore directories.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/vmware/govmomi/lookup/simulator"
	_ "github.com/vmware/govmomi/pbm/simulator"
	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	listen := flag.String("l", "127.0.0.1:8989", "listen address (host:port)")
	user := flag.String("username", "user", "login user")
	pass := flag.String("password", "pass", "login password")
	esx := flag.Bool("esx", false, "simulate one standalone ESXi host instead of vCenter")
	dc := flag.Int("dc", 1, "datacenters (vCenter mode)")
	cluster := flag.Int("cluster", 1, "clusters per datacenter (vCenter mode)")
	clusterHosts := flag.Int("host", 3, "hosts per cluster (vCenter mode)")
	standalone := flag.Int("standalone-host", 1, "standalone hosts per datacenter (vCenter mode)")
	ds := flag.Int("ds", 1, "datastores")
	vms := flag.Int("vm", 2, "VMs per host and per cluster")
	pg := flag.Int("pg", 1, "distributed portgroups (vCenter mode)")
	noTLS := flag.Bool("no-tls", false, "serve plain http instead of https")
	flag.Parse()

	var m *simulator.Model
	if *esx {
		m = simulator.ESX()
	} else {
		m = simulator.VPX()
		m.Datacenter = *dc
		m.Cluster = *cluster
		m.ClusterHost = *clusterHosts
		m.Host = *standalone
		m.Portgroup = *pg
	}
	m.Datastore = *ds
	m.Machine = *vms
	if err := m.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: create model:", err)
		os.Exit(1)
	}
	m.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	if !*noTLS {
		m.Service.TLS = new(tls.Config)
	}
	m.Service.RegisterEndpoints = true
	s := m.Service.NewServer()
	fmt.Printf("VCSIM_URL=%s\n", s.URL)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Close()
	m.Remove()
}
