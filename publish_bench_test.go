package wssync

import (
	"fmt"
	"log/slog"
	"strconv"
	"testing"
)

// benchMember and benchRoom are the state of BenchmarkPublishFanout: a room with a list
// of members, in which each change renames one.
type benchMember struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

type benchRoom struct {
	N       int           `sync:"n"`
	Members []benchMember `sync:"members"`
}

// BenchmarkPublishFanout measures the publish path alone (snapshot, diff, the view frames,
// handing the frame to each subscriber's queue), without sockets: one change of a shared
// object with 1,000 subscribers, for an object without views and (views=3) with its
// subscribers split over three filtering views.
//
//	go test -run '^$' -bench PublishFanout -benchtime 2000x -count 5 .
func BenchmarkPublishFanout(b *testing.B) {
	const subs = 1000
	for _, views := range []int{0, 3} {
		b.Run(fmt.Sprintf("views=%d", views), func(b *testing.B) {
			room := &benchRoom{}
			for i := range 20 {
				room.Members = append(room.Members, benchMember{Name: "m" + strconv.Itoa(i), Email: "e", Phone: "p"})
			}
			s, err := NewShared("ROOM", room, benchViewOptions(views)...)
			if err != nil {
				b.Fatal(err)
			}
			counters := make([]*countingSubscriber, subs)
			for i := range counters {
				counters[i] = &countingSubscriber{}
				s.o.subscribeAs(counters[i], Identity{Roles: []string{"v" + strconv.Itoa(i%max(views, 1))}}, slog.New(slog.DiscardHandler))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.Update(func(r *benchRoom) { r.N = i; r.Members[i%20].Name = strconv.Itoa(i) }); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if counters[subs-1].frames != b.N {
				b.Fatalf("a subscriber got %d frames of %d", counters[subs-1].frames, b.N)
			}
		})
	}
}
