package tokenizer

// GPT-2 and CLIP give every byte a printable rune so that byte strings can
// be handled as text: the printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100 onwards, in byte order.

// byteTables holds the byte <-> rune mapping and the order in which CLIP
// lists the byte runes in its vocabulary.
type byteTables struct {
	enc   [256]rune // byte -> rune
	order [256]byte // vocabulary order: printable bytes first, then the rest
	dec   map[rune]byte
}

// bytesToRunes is read-only after package initialization.
var bytesToRunes = newByteTables()

func newByteTables() *byteTables {
	t := &byteTables{dec: make(map[rune]byte, 256)}
	var printable [256]bool
	n := 0
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			printable[b] = true
			t.enc[b] = rune(b)
			t.order[n] = byte(b)
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if printable[b] {
			continue
		}
		t.enc[b] = rune(256 + extra)
		extra++
		t.order[n] = byte(b)
		n++
	}
	for b := 0; b < 256; b++ {
		t.dec[t.enc[b]] = byte(b)
	}
	return t
}

// byteSymbol returns the vocabulary string of byte b, with the end-of-word
// marker when last is true.
func byteSymbol(b byte, last bool) string {
	s := string(bytesToRunes.enc[b])
	if last {
		s += endOfWord
	}
	return s
}
