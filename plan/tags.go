package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"provisioner"
)

// # Tag files
//
// A tag file describes the layout of one SlideRule release, so that plans
// can be checked against every version they claim without a clone
// (scripts/make-tags.sh writes them from a clone; CheckTags reads them).
// One file per release tag, named <tag>.txt, plain text:
//
//	# sliderule v5.4.5 <commit>
//	## directories
//	apps                           (every directory, depth <= 3, one a line)
//	apps/ams
//	## files
//	targets/slideruleearth/Makefile   (Makefiles and a few build files)
//	## targets targets/slideruleearth/Makefile
//	all ams-docker cluster-docker ...  (the Makefile's targets, space separated)
//
// "## targets" sections exist for the root Makefile and targets/*/Makefile
// only. Lines before the first section other than the header are ignored.

// Tag is the layout of one release, read from a tag file.
type Tag struct {
	Name    string
	Dirs    map[string]bool
	Files   map[string]bool
	Targets map[string]map[string]bool // Makefile path -> its targets
}

// ParseTag reads one tag file; name is the tag.
func ParseTag(name string, data []byte) (Tag, error) {
	t := Tag{Name: name, Dirs: map[string]bool{}, Files: map[string]bool{}, Targets: map[string]map[string]bool{}}
	section, mk := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "## targets "):
			section, mk = "targets", strings.TrimSpace(strings.TrimPrefix(line, "## targets "))
			if t.Targets[mk] == nil {
				t.Targets[mk] = map[string]bool{}
			}
		case line == "## directories":
			section = "dirs"
		case line == "## files":
			section = "files"
		case strings.HasPrefix(line, "##"):
			return Tag{}, fmt.Errorf("tag file %s: unknown section %q", name, line)
		case line == "" || strings.HasPrefix(line, "#"):
		case section == "dirs":
			t.Dirs[line] = true
		case section == "files":
			t.Files[line] = true
		case section == "targets":
			for _, f := range strings.Fields(line) {
				t.Targets[mk][f] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Tag{}, fmt.Errorf("tag file %s: %w", name, err)
	}
	if len(t.Dirs) == 0 {
		return Tag{}, fmt.Errorf("tag file %s: no directories", name)
	}
	return t, nil
}

// LoadTags reads every <tag>.txt in dir whose tag is a release version,
// sorted by version.
func LoadTags(dir string) ([]Tag, error) {
	names, err := filepath.Glob(filepath.Join(dir, "v*.txt"))
	if err != nil {
		return nil, err
	}
	var tags []Tag
	for _, f := range names {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		if v := parseJobVersion(name); v.newest {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		t, err := ParseTag(name, data)
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("no tag files (v*.txt) in %s", dir)
	}
	sort.Slice(tags, func(i, j int) bool {
		return cmpVersion(parseJobVersion(tags[i].Name), parseJobVersion(tags[j].Name)) < 0
	})
	return tags, nil
}

// Finding is one result of CheckTags: a problem, or (Unchecked) a command
// the tag files cannot confirm.
type Finding struct {
	Kind      provisioner.JobKind
	Tag       string
	Step      string
	Unchecked bool
	Msg       string
}

func (f Finding) String() string {
	what := "error"
	if f.Unchecked {
		what = "unchecked"
	}
	return fmt.Sprintf("%s %s plan, step %s at %s: %s", what, f.Kind, f.Step, f.Tag, f.Msg)
}

// CheckTags checks each plan of s at every tag: for the steps that apply
// to the tag, every `cd DIR` must name a directory of that release and
// every `make [TARGET...]` a Makefile (and targets) of it. Only literal
// relative paths, directories the tag file lists (depth <= 3) and the
// Makefiles it lists targets of (root and targets/*) can be checked; other
// cd and make commands are reported as Unchecked, as is a tag no plan has
// steps for.
func CheckTags(s *Set, tags []Tag) []Finding {
	var out []Finding
	for _, kind := range []provisioner.JobKind{provisioner.JobTest, provisioner.JobRelease} {
		p, ok := s.Plan(kind)
		if !ok {
			continue
		}
		for _, t := range tags {
			pv, err := p.For(t.Name)
			if err != nil {
				out = append(out, Finding{Kind: kind, Tag: t.Name, Step: "-", Unchecked: true, Msg: "the plan has no steps for this version"})
				continue
			}
			for _, st := range pv.Steps {
				for _, f := range checkRun(st.Run, t) {
					f.Kind, f.Tag, f.Step = kind, t.Name, st.Name
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// maxListedDepth is how deep the tag files list directories.
const maxListedDepth = 3

// checkRun follows the cd and make commands of one step's run text.
func checkRun(run string, t Tag) []Finding {
	var out []Finding
	bad := func(format string, a ...any) { out = append(out, Finding{Msg: fmt.Sprintf(format, a...)}) }
	unchecked := func(format string, a ...any) {
		out = append(out, Finding{Unchecked: true, Msg: fmt.Sprintf(format, a...)})
	}
	cwd, known := ".", true
	for _, cmd := range shellCommands(run) {
		cmd = commandWords(cmd)
		if len(cmd) == 0 {
			continue
		}
		switch cmd[0] {
		case "cd":
			if len(cmd) != 2 || strings.ContainsAny(cmd[1], "$`*?~") || path.IsAbs(cmd[1]) {
				known = false
				unchecked("cd %s: not a literal relative directory", strings.Join(cmd[1:], " "))
				continue
			}
			if !known {
				unchecked("cd %s: from an unknown directory", cmd[1])
				continue
			}
			d := path.Join(cwd, cmd[1])
			if strings.HasPrefix(d, "..") {
				known = false
				unchecked("cd %s: leaves the checkout", cmd[1])
				continue
			}
			cwd = d
			switch {
			case d == ".":
			case strings.Count(d, "/")+1 > maxListedDepth:
				unchecked("cd %s: deeper than the tag files list directories", d)
			case !t.Dirs[d]:
				bad("directory %s does not exist", d)
			}
		case "make":
			if !known {
				unchecked("make: in an unknown directory")
				continue
			}
			dir, targets, ok := makeArgs(cmd[1:])
			if !ok {
				unchecked("%s: options this check does not follow", strings.Join(cmd, " "))
				continue
			}
			d := path.Join(cwd, dir)
			mk := path.Join(d, "Makefile")
			tg, listed := t.Targets[mk]
			if !listed {
				if d == "." || path.Dir(d) == "targets" {
					bad("%s does not exist", mk)
				} else {
					unchecked("make %s in %s: the tag files list the targets of the root and targets/* Makefiles only", strings.Join(targets, " "), d)
				}
				continue
			}
			for _, x := range targets {
				if !tg[x] {
					bad("%s has no target %s", mk, x)
				}
			}
		}
	}
	return out
}

// commandWords drops what runs a command rather than being it: leading
// variable assignments, env, and `mamba run` / `conda run` with their
// options.
func commandWords(cmd []string) []string {
	for len(cmd) > 0 {
		switch {
		case strings.Contains(cmd[0], "=") && !strings.HasPrefix(cmd[0], "-"):
			cmd = cmd[1:]
		case cmd[0] == "env":
			cmd = cmd[1:]
		case (cmd[0] == "mamba" || cmd[0] == "conda" || cmd[0] == "micromamba") && len(cmd) > 1 && cmd[1] == "run":
			cmd = cmd[2:]
			for len(cmd) > 0 && strings.HasPrefix(cmd[0], "-") {
				if (cmd[0] == "-n" || cmd[0] == "--name" || cmd[0] == "-p" || cmd[0] == "--prefix") && len(cmd) > 1 {
					cmd = cmd[1:]
				}
				cmd = cmd[1:]
			}
		default:
			return cmd
		}
	}
	return cmd
}

// makeArgs splits make's arguments into a -C directory and targets;
// variable assignments are skipped. ok is false for other options.
func makeArgs(args []string) (dir string, targets []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-C" && i+1 < len(args):
			dir = args[i+1]
			i++
		case strings.HasPrefix(a, "-"):
			return "", nil, false
		case strings.Contains(a, "="):
		case strings.ContainsAny(a, "$`"):
			return "", nil, false
		default:
			targets = append(targets, a)
		}
	}
	if strings.ContainsAny(dir, "$`") || path.IsAbs(dir) {
		return "", nil, false
	}
	return dir, targets, true
}

// shellCommands splits shell text into simple commands (on newlines, ;,
// &&, || and |), each as words with quotes removed. It is enough for the
// cd and make lines of plans, not a shell parser: $(...) and ${...} stay
// inside their word.
func shellCommands(s string) [][]string {
	var cmds [][]string
	var cur []string
	var w strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			cur = append(cur, w.String())
			w.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
		}
		cur = nil
	}
	depth := 0 // inside $( or ${
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case depth > 0:
			w.WriteByte(c)
			if c == '(' || c == '{' {
				depth++
			} else if c == ')' || c == '}' {
				depth--
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
			endWord()
		case c == '\\' && i+1 < len(s):
			w.WriteByte(s[i+1])
			inWord = true
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				w.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{'):
			w.WriteString(s[i : i+2])
			inWord = true
			depth = 1
			i++
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			endCmd()
		case c == '\n' || c == ';' || c == '|' || c == '&':
			endCmd()
		case c == ' ' || c == '\t':
			endWord()
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	endCmd()
	return cmds
}
