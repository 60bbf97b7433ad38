#!/usr/bin/env python3
"""A synthetic model export and its revisions, for bench/chunking.sh.

  chunking_model.py DIR [--size-mb 100] [--revs 50] [--change-kib 100] [--seed 1]

Writes DIR/rev-000.xml (about SIZE-MB MB of XMI-like XML: packages of
classes, blocks, requirements, properties, associations; elements with
xmi:id, attributes, text) and DIR/rev-001.xml ... rev-REVS.xml, each the
previous one with about CHANGE-KIB KiB changed in scattered places (runs
of 1 to 6 elements at random places: edited attributes and text, inserted
elements, deleted elements). Prints one line
per revision (bytes, changed bytes, edits) on stdout as TSV. The same
arguments give the same bytes on every machine (random.Random(seed), no
clock, no hash randomisation involved).
"""
import argparse
import os
import random

WORDS = ("shall the pump valve pressure sensor controller within limit report state "
         "fault ms kPa flow temperature redundant channel operator display alarm "
         "mode nominal degraded safe power bus interface signal command").split()
KINDS = ("uml:Class", "sysml:Block", "sysml:Requirement", "uml:Interface", "uml:Activity")


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n = 0

    def ident(self):
        self.n += 1
        return "_%08x%08x" % (self.r.getrandbits(32), self.n)

    def text(self, lo, hi):
        return " ".join(self.r.choice(WORDS) for _ in range(self.r.randint(lo, hi)))

    def element(self):
        """One top-level element with nested properties: 300 B to 3 KB."""
        r = self.r
        kind = r.choice(KINDS)
        eid = self.ident()
        out = ['    <packagedElement xmi:type="%s" xmi:id="%s" name="%s%d" visibility="%s"%s>\n'
               % (kind, eid, kind.split(":")[1], self.n, r.choice(("public", "private")),
                  ' isAbstract="true"' if r.random() < 0.1 else "")]
        if kind == "sysml:Requirement":
            out.append('      <ownedComment xmi:id="%s" body="%s"/>\n' % (self.ident(), self.text(8, 40)))
        for _ in range(r.randint(0, 8)):
            out.append('      <ownedAttribute xmi:type="uml:Property" xmi:id="%s" name="%s" '
                       'type="%s" aggregation="%s" lower="%d" upper="%s"/>\n'
                       % (self.ident(), r.choice(WORDS) + str(r.randint(0, 999)), self.ident(),
                          r.choice(("none", "composite", "shared")), r.randint(0, 1),
                          r.choice(("1", "*", "4"))))
        if r.random() < 0.3:
            out.append('      <ownedOperation xmi:id="%s" name="%s"><ownedParameter xmi:id="%s" '
                       'direction="in" type="%s"/></ownedOperation>\n'
                       % (self.ident(), r.choice(WORDS), self.ident(), self.ident()))
        out.append("      <documentation>%s</documentation>\n" % self.text(0, 30))
        out.append("    </packagedElement>\n")
        return "".join(out)

    def edit_attr(self, el):
        """Changes one attribute value or the documentation text of el:
        (the new element, bytes changed)."""
        r = self.r
        if r.random() < 0.5 and 'name="' in el:
            i = el.index('name="') + 6
            j = el.index('"', i)
            new = r.choice(WORDS) + str(r.randint(0, 99999))
        else:
            i = el.find("<documentation>")
            if i < 0:
                return el, 0
            i += 15
            j = el.index("</documentation>", i)
            new = self.text(3, 30)
        return el[:i] + new + el[j:], max(len(new), j - i)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--revs", type=int, default=50)
    ap.add_argument("--change-kib", type=float, default=100)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    g = Gen(a.seed)
    target = int(a.size_mb * 1e6)
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<xmi:XMI xmi:version="2.5.1" xmlns:xmi="http://www.omg.org/spec/XMI/20131001" '
            'xmlns:uml="http://www.omg.org/spec/UML/20161101" '
            'xmlns:sysml="http://www.omg.org/spec/SysML/20181001/SysML">\n'
            '  <uml:Model xmi:id="model" name="Synthetic">\n')
    tail = "  </uml:Model>\n</xmi:XMI>\n"
    els, size = [], len(head) + len(tail)
    while size < target:
        if len(els) % 200 == 0:
            e = '    <packagedElement xmi:type="uml:Package" xmi:id="%s" name="pkg%d"/>\n' % (
                g.ident(), len(els) // 200)
        else:
            e = g.element()
        els.append(e)
        size += len(e)
    os.makedirs(a.dir, exist_ok=True)

    def write(k):
        with open(os.path.join(a.dir, "rev-%03d.xml" % k), "w", encoding="utf-8", newline="\n") as f:
            f.write(head)
            f.writelines(els)
            f.write(tail)

    write(0)
    print("rev\tbytes\tchanged_bytes\tsites\tattr_edits\tinserted\tdeleted")
    print("0\t%d\t%d\t0\t0\t0\t0" % (size, size))
    budget = int(a.change_kib * 1024)
    r = g.r
    for k in range(1, a.revs + 1):
        changed = n_attr = n_ins = n_del = sites = 0
        # edit sites at random places, each a run of 1 to 6 elements: their
        # attributes and text edited, new elements inserted, or elements
        # deleted (a modeler's commit touches a few dozen places)
        while changed < budget:
            x = r.random()
            i = r.randrange(len(els) - 6)
            run = r.randint(1, 6)
            sites += 1
            if x < 0.4:
                for j in range(i, i + run):
                    els[j], n = g.edit_attr(els[j])
                    changed += n
                    n_attr += 1
            elif x < 0.7:
                new = [g.element() for _ in range(run)]
                els[i:i] = new
                changed += sum(len(e) for e in new)
                n_ins += run
            else:
                changed += sum(len(e) for e in els[i:i + run])
                del els[i:i + run]
                n_del += run
        size = len(head) + len(tail) + sum(len(e) for e in els)
        write(k)
        print("%d\t%d\t%d\t%d\t%d\t%d\t%d" % (k, size, changed, sites, n_attr, n_ins, n_del), flush=True)


if __name__ == "__main__":
    main()
