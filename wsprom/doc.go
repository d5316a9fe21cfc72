// Package wsprom exports a wssync Manager's metrics to Prometheus, with
// github.com/prometheus/client_golang. It is optional: the wssync package itself does not
// depend on Prometheus.
//
// Counters and gauges are read from Manager.Stats (and the sessions' send queues, and the
// BackendStatus of the objects given to WatchBackend) at each scrape, so they cost nothing
// between scrapes; the two histograms (Sync duration, fan-out latency) are fed by the
// wssync.Observer that Metrics.Observer returns, which the Manager must be built with:
//
//	metrics := wsprom.New()
//	mgr := wssync.NewManager(factory, wssync.WithObserver(metrics.Observer()))
//	metrics.Watch(mgr)
//	metrics.WatchBackend(room) // a shared object with a backend, labelled by its key
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every metric, its meaning, sample queries and alerting hints are in docs/operations.md.
// Labels are bounded: error codes and close codes come from fixed tables, and the key
// label exists only on the backend metrics, for the objects you watch.
package wsprom
