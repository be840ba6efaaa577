package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/quarry-kb/quarry"
)

// IgnoreFile is the name of the files, in the folder or any directory
// below it, whose .gitignore-syntax patterns name files to leave out.
const IgnoreFile = ".quarryignore"

// maxLinkHops bounds the symbolic links followed to resolve one path
// (Linux's own limit is 40).
const maxLinkHops = 40

type file struct {
	path string // as found in the folder
	read string // where its bytes are read: path, or a symlink's resolved target
	info fs.FileInfo
}

// walk lists the regular files of fsys in lexical order, and the entries
// it leaves out with the reason: hidden, ignored, badly named, symbolic
// links that leave the folder, loop or name a directory. Directories that
// cannot be read are skips too (and listed in badDirs so that their
// known documents are not taken for deleted).
func walk(ctx context.Context, fsys fs.FS, opts Options) (files []file, skips []Skip, badDirs []string, err error) {
	var patterns []gitignore.Pattern
	for _, p := range opts.Exclude {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, gitignore.ParsePattern(p, nil))
		}
	}
	// The patterns of ExcludeIn apply below their folder, up to the
	// folder of a deeper key (a source mounted inside another is its own).
	type folderMatcher struct {
		dir string // "" or a clean slash path
		m   gitignore.Matcher
	}
	var folders []folderMatcher
	for _, dir := range slices.Sorted(maps.Keys(opts.ExcludeIn)) {
		var domain []string
		d := strings.Trim(path.Clean("/"+dir), "/")
		if d != "" {
			domain = strings.Split(d, "/")
		}
		var ps []gitignore.Pattern
		for _, p := range opts.ExcludeIn[dir] {
			if p = strings.TrimSpace(p); p != "" {
				ps = append(ps, gitignore.ParsePattern(p, domain))
			}
		}
		folders = append(folders, folderMatcher{dir: d, m: gitignore.NewMatcher(ps)})
	}
	excludedIn := func(p string, isDir bool) bool {
		best := -1
		for i, f := range folders {
			if (f.dir == "" || p == f.dir || strings.HasPrefix(p, f.dir+"/")) && (best < 0 || len(f.dir) > len(folders[best].dir)) {
				best = i
			}
		}
		return best >= 0 && folders[best].m.Match(strings.Split(p, "/"), isDir)
	}
	matcher := gitignore.NewMatcher(patterns)
	skip := func(p, kind, reason string) {
		skips = append(skips, Skip{Path: strings.ToValidUTF8(p, "\uFFFD"), Reason: reason, Kind: kind})
	}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == "." {
			if err != nil {
				return err
			}
			ps, rerr := readIgnore(fsys, ".")
			if rerr != nil {
				return rerr
			}
			patterns = append(patterns, ps...)
			matcher = gitignore.NewMatcher(patterns)
			return nil
		}
		name, isDir := d.Name(), d.IsDir()
		shown := p
		if isDir {
			shown += "/"
		}
		skipDir := func() error {
			if isDir {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case !utf8.ValidString(name):
			skip(shown, KindBadName, fmt.Sprintf("the name %q is not valid UTF-8", name))
			return skipDir()
		case name == IgnoreFile && !isDir:
			return nil // Quarry's own control file
		case strings.HasPrefix(name, "."):
			skip(shown, KindHidden, "hidden (the name starts with a dot)")
			return skipDir()
		case matcher.Match(strings.Split(p, "/"), isDir), excludedIn(p, isDir):
			skip(shown, KindIgnored, "excluded by "+IgnoreFile+" or --exclude")
			return skipDir()
		}
		if err != nil {
			skip(p, KindUnreadable, "unreadable: "+errText(err))
			if isDir {
				badDirs = append(badDirs, p)
				return fs.SkipDir
			}
			return nil
		}
		if isDir {
			ps, err := readIgnore(fsys, p)
			if err != nil {
				skip(p+"/"+IgnoreFile, KindUnreadable, "unreadable: "+errText(err))
			}
			if len(ps) > 0 {
				patterns = append(patterns, ps...)
				matcher = gitignore.NewMatcher(patterns)
			}
			return nil
		}
		read := p
		if d.Type()&fs.ModeSymlink != 0 {
			target, kind, reason := resolveLink(fsys, p, opts.Root)
			switch {
			case kind == KindOutside && opts.FollowSymlinks:
				// read through the link, as the operator asked
			case kind != "":
				skip(p, kind, reason)
				return nil
			default:
				read = target
			}
		}
		info, err := fs.Stat(fsys, read)
		if err != nil {
			skip(p, KindUnreadable, "unreadable: "+errText(err))
			return nil
		}
		switch {
		case info.IsDir():
			skip(p, KindLinkDir, "symbolic link to a directory (not followed)")
		case !info.Mode().IsRegular():
			skip(p, KindNotRegular, "not a regular file")
		default:
			files = append(files, file{path: p, read: read, info: info})
		}
		return nil
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = fmt.Errorf("sync: %w", ctx.Err())
	case errors.Is(err, fs.ErrNotExist):
		err = quarry.Errorf(quarry.CodeNotFound, "source folder: %w", err)
	default:
		err = quarry.Errorf(quarry.CodeInvalid, "source folder: %w", err)
	}
	return files, skips, badDirs, err
}

// readIgnore reads the patterns of dir's IgnoreFile, if it has one.
func readIgnore(fsys fs.FS, dir string) ([]gitignore.Pattern, error) {
	data, err := fs.ReadFile(fsys, path.Join(dir, IgnoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var domain []string
	if dir != "." {
		domain = strings.Split(dir, "/")
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps, sc.Err()
}

// resolveLink follows the symbolic link at p, component by component, to
// a path inside fsys with no link left in it. It returns the kind and
// reason of a skip instead when the link (or one it leads to) leaves the
// folder, loops, dangles or cannot be read. root, the folder's absolute
// path when known, lets an absolute link into the folder count as inside.
func resolveLink(fsys fs.FS, p, root string) (target, kind, reason string) {
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		// Without Lstat, every check below would follow links itself.
		return "", KindOutside, "symbolic link that cannot be resolved in this folder (not followed)"
	}
	parts := strings.Split(p, "/")
	cur := ""
	hops := 0
	outside := func(t string) (string, string, string) {
		return "", KindOutside, fmt.Sprintf("symbolic link to %s, outside the folder (not followed)", t)
	}
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return outside(strings.Join(append([]string{".."}, parts...), "/"))
			}
			cur = parentDir(cur)
			continue
		}
		next := path.Join(cur, part)
		if cur == "" {
			next = part
		}
		info, err := fs.Lstat(fsys, next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", KindUnreadable, "unreadable: broken symbolic link (" + next + " does not exist)"
			}
			return "", KindUnreadable, "unreadable: " + errText(err)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", KindLoop, "symbolic link loop (not followed)"
		}
		link, err := fs.ReadLink(fsys, next)
		if err != nil {
			return "", KindUnreadable, "unreadable: symbolic link: " + errText(err)
		}
		rest := parts
		if filepath.IsAbs(link) {
			rel, ok := within(root, link)
			if !ok {
				return outside(link)
			}
			cur, link = "", rel
		}
		parts = append(strings.Split(filepath.ToSlash(link), "/"), rest...)
	}
	if cur == "" {
		cur = "."
	}
	return cur, "", ""
}

func parentDir(p string) string {
	if d := path.Dir(p); d != "." {
		return d
	}
	return ""
}

// within returns abs relative to root when it lies inside root.
func within(root, abs string) (string, bool) {
	if root == "" {
		return "", false
	}
	rel, err := filepath.Rel(root, filepath.Clean(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
