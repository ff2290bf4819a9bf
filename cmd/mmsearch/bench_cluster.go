package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"mmsearch/bench"
	"mmsearch/bench/ann"
	"mmsearch/bench/cluster"
	"mmsearch/encoders"
	"mmsearch/internal/weaviated"
)

// benchClusterCommand is `mmsearch bench cluster`.
func benchClusterCommand() *command {
	var n, dim, queries, m, efc int
	var efs, nodes string
	var out benchOutput
	var seed int64
	var asJSON bool
	return &command{
		name:    "cluster",
		summary: "recall@10 and queries/s of Weaviate (1 node; 3 nodes, RF 2) beside our HNSW on the same vectors",
		usage: `[flags]

Generates --n synthetic unit vectors (bench ann's generator), builds our HNSW,
then starts Weaviate on loopback (the binary of 'make setup-cluster') as one
node and as a 3-node cluster with 3 shards and replication factor 2, loads the
same vectors into each and sweeps the same beam widths ef: recall@10 against
exact search, queries/s from one client, inserts/s. Writes cluster.json and
cluster.md under --out.`,
		setFlags: func(fs *flag.FlagSet) {
			intVar(fs, &n, "n", 100000, 100, 10_000_000, "base vectors")
			intVar(fs, &dim, "dim", 512, 1, 4096, "dimension")
			intVar(fs, &queries, "queries", 500, 1, 100_000, "queries")
			intVar(fs, &m, "m", 16, 2, 128, "HNSW links per node (Weaviate's maxConnections)")
			intVar(fs, &efc, "ef-construction", 128, 4, maxEf, "HNSW beam width while building (Weaviate's default 128)")
			fs.StringVar(&efs, "ef", "32,64,128,256", "comma-separated search beam widths")
			fs.StringVar(&nodes, "nodes", "1,3", "Weaviate configurations: 1 (one node) and/or 3 (3 shards, RF 2)")
			fs.Int64Var(&seed, "seed", 1, "seed of the data and of our HNSW's levels")
			out.register(fs, "folder for cluster.json and cluster.md")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of writing files")
		},
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("bench cluster takes no arguments (got %q)", args[0])
			}
			efList, err := parseInts(efs)
			if err != nil {
				return usagef("--ef: %v", err)
			}
			nodeList, err := parseInts(nodes)
			if err != nil {
				return usagef("--nodes: %v", err)
			}
			for _, k := range nodeList {
				if k != 1 && k != 3 {
					return usagef("--nodes: %d (want 1 and/or 3)", k)
				}
			}
			if err := out.begin(ctx, e); err != nil {
				return err
			}
			bin := weaviated.BinaryPath(e.getenv)
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("%w (%s)", weaviated.ErrNoBinary, bin)
			}
			header := bench.NewHeader(ctx, "cluster", fmt.Sprintf("synthetic: %d×%d unit vectors, %d Gaussian clusters, %d queries, seed %d", n, dim, ann.DefaultClusters, queries, seed))
			header.AddParam("M / maxConnections", m)
			header.AddParam("efConstruction", efc)
			header.AddParam("ef", efs)
			header.AddParam("k", cluster.K)
			header.AddParam("weaviate consistency", "ONE")
			header.Peers = append(header.Peers, bench.Peer{Name: "weaviate", Version: weaviated.Version})
			prog := newProgressLine(e)
			defer prog.finish()
			prog.update(ann.Progress{Stage: fmt.Sprintf("generating %d×%d vectors", n, dim)})
			ds, err := ann.Synthetic(ctx, ann.SyntheticConfig{N: n, Dim: dim, Queries: queries, Seed: seed})
			if err != nil {
				return err
			}
			cache := encoders.CacheDir(e.getenv)
			if err := os.MkdirAll(cache, 0o755); err != nil {
				return err
			}
			dir, err := os.MkdirTemp(cache, "bench-cluster-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			res, err := cluster.Run(ctx, cluster.Config{
				Dataset: ds, Efs: efList, M: m, EfConstruction: efc, Seed: seed,
				Bin: bin, Dir: dir, Nodes: nodeList,
				Progress: func(s string) { prog.update(ann.Progress{Stage: s}) },
			})
			if err != nil {
				return err
			}
			prog.finish()
			return writeReport(e, res.Report(header), &out, "cluster", asJSON)
		},
	}
}
