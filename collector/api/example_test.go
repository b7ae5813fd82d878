package api_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/store"
)

// The collector mounts the API and the UI on its HTTP mux, next to
// /metrics, with the store's database handle.
func ExampleAPI_Register() {
	st, err := store.Open(context.Background(), store.Config{DSN: "xhep:xhep@tcp(127.0.0.1:3306)/", Database: "xhep"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	a, err := api.New(api.Config{DB: st.DB(), Token: "s3cret", MaxRange: 48 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux) // GET /api/v1/... and the UI at /
	log.Fatal(http.ListenAndServe("127.0.0.1:9080", mux))
}
