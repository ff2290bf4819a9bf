package engine

import (
	"context"
	"fmt"

	"mmsearch/engine/store"
)

// PageTier is the size of the first tier of a paged search; each further
// tier is four times the one before (32, 128, 512, 2048, ...).
const PageTier = 32

// PageEf is the beam width a tier of tier results searches with: ef when
// given (at least tier), else DefaultEf(tier).
func PageEf(tier, ef int) int {
	if ef > 0 {
		return max(ef, tier)
	}
	return DefaultEf(tier)
}

// searchPaged answers a paged search (SearchOptions.Paged): results
// Offset to Offset+K of one ranking of the query that does not depend on
// the page asked for, so that consecutive pages fit together exactly and
// one big page equals the small pages laid end to end.
//
// An approximate search finds a different set of neighbours for a different
// beam width, so pages cannot each be searched with a width of their own.
// The ranking is built in tiers instead: places 0-31 are the best 32
// results of a search with PageEf(32, ef); places 32-127 are the best
// results of a search for 128 with PageEf(128, ef) that are not ranked
// yet; places 128-511 come from a search for 512, and so on. Each tier
// depends on the query and ef only; a page runs the tiers up to the one
// that holds its end, so the first page costs one search of the default
// width. Scores fall within a tier; a wider search may find an item that
// scores above the end of the tier before it, and it is ranked in its own
// tier, after that end.
//
// Sorted by date (SortDate), the ranking is the best max(Depth, Offset+K)
// results of the score ranking above, newest first, so that pages of one
// Depth fit together too.
func (l *Library) searchPaged(ctx context.Context, terms []Term, exclude map[int64]bool, opt SearchOptions) ([]Result, error) {
	k := opt.K
	if k <= 0 {
		k = 10
	}
	if opt.Offset < 0 {
		return nil, fmt.Errorf("search: offset %d is negative", opt.Offset)
	}
	end := opt.Offset + k
	sortBy, err := ParseSort(string(opt.Sort))
	if err != nil {
		return nil, err
	}
	depth := end
	if sortBy == SortDate {
		depth = max(end, opt.Depth)
	}
	var ranked []Result
	seenHash := map[store.Hash]bool{}
	seenID := map[int64]bool{}
	for tier := PageTier; ; tier *= 4 {
		o := opt
		o.Paged, o.Offset, o.K, o.Ef, o.Sort = false, 0, tier, PageEf(tier, opt.Ef), SortScore
		res, err := l.SearchTerms(ctx, terms, exclude, o)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if seenID[r.ID] || !opt.KeepCopies && seenHash[r.hash] {
				continue
			}
			if len(ranked) == tier {
				break // the rest comes with the next tier
			}
			seenID[r.ID], seenHash[r.hash] = true, true
			ranked = append(ranked, r)
		}
		if len(ranked) >= depth || len(res) < tier {
			break
		}
	}
	if sortBy == SortDate {
		ranked = ranked[:min(depth, len(ranked))]
		dates, err := l.attributes(ctx)
		if err != nil {
			return nil, err
		}
		dates.sortByDate(ranked)
	}
	if opt.Offset >= len(ranked) {
		return []Result{}, nil
	}
	return ranked[opt.Offset:min(end, len(ranked))], nil
}
