#!/usr/bin/env python3
"""Golden fixtures for deepzero_vision::detect, written from torchvision and pycocotools.

    pip install pycocotools   # torch + torchvision already installed
    python3 scripts/detect_golden.py

Writes crates/deepzero-vision/tests/fixtures/detect/:
  box_ops.json   torchvision.ops.box_iou / generalized_box_iou / BoxCoder encode+decode
  nms.json       torchvision.ops.nms and batched_nms at several IoU thresholds
  roi_align.json torchvision.ops.roi_align (aligned on/off, fixed and adaptive sampling)
  coco/CASE_gt.json, CASE_dt.json, coco_expected.json  pycocotools COCOeval stats (bbox)
  voc.json       VOC AP@0.5 (all-point), from the py-faster-rcnn voc_eval algorithm below
"""
import json
import os
import random

import numpy as np
import torch
from torchvision.ops import batched_nms, box_iou, generalized_box_iou, nms, roi_align
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "deepzero-vision", "tests", "fixtures", "detect")
os.makedirs(os.path.join(OUT, "coco"), exist_ok=True)
torch.manual_seed(0)
random.seed(0)
np.random.seed(0)


def rand_boxes(n, size=50.0, max_side=25.0):
    xy = torch.rand(n, 2) * size
    wh = torch.rand(n, 2) * max_side
    return torch.cat([xy, xy + wh], 1)


def dump(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f)
    print("wrote", name)


def tolist(t):
    return t.detach().double().tolist()


# ---- box ops --------------------------------------------------------------------------------
a = rand_boxes(7)
b = rand_boxes(5)
b[0] = torch.tensor([10.0, 10.0, 10.0, 20.0])  # zero width
b[1] = a[2]  # identical box: IoU 1
anchors = rand_boxes(6, max_side=20.0) + torch.tensor([0.0, 0.0, 1.0, 1.0])
gts = rand_boxes(6, max_side=20.0) + torch.tensor([0.0, 0.0, 1.0, 1.0])
coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
deltas = coder.encode_single(gts, anchors)
rand_deltas = torch.randn(6, 4)
decoded = coder.decode_single(rand_deltas, anchors)
coder1 = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
dump("box_ops.json", {
    "a": tolist(a), "b": tolist(b),
    "iou": tolist(box_iou(a, b)), "giou": tolist(generalized_box_iou(a, b)),
    "anchors": tolist(anchors), "gts": tolist(gts),
    "weights": [10.0, 10.0, 5.0, 5.0],
    "encoded": tolist(deltas),
    "deltas": tolist(rand_deltas), "decoded": tolist(decoded),
    "encoded_unit": tolist(coder1.encode_single(gts, anchors)),
    "decoded_unit": tolist(coder1.decode_single(rand_deltas, anchors)),
    # AnchorGenerator, one 3x4 map, stride 8 across and 16 down (torchvision takes [h, w])
    "grid_anchors": tolist(AnchorGenerator(sizes=((32, 64),), aspect_ratios=((0.5, 1.0, 2.0),))
                           .grid_anchors([[3, 4]], [[torch.tensor(16), torch.tensor(8)]])[0]),
})

# ---- NMS ------------------------------------------------------------------------------------
centers = torch.rand(8, 2) * 80
boxes = []
for c in centers:
    for _ in range(10):
        xy = c + torch.randn(2) * 3
        wh = torch.tensor([20.0, 16.0]) + torch.randn(2) * 3
        boxes.append(torch.cat([xy, xy + wh.abs() + 1]))
boxes = torch.stack(boxes)
scores = torch.rand(len(boxes))
scores[5] = scores[7]  # a tie: torchvision keeps the lower index first (stable sort)
classes = torch.randint(0, 3, (len(boxes),))
cases = []
for thr in [0.3, 0.5, 0.7]:
    cases.append({
        "iou_threshold": thr,
        "keep": nms(boxes, scores, thr).tolist(),
        "batched_keep": batched_nms(boxes, scores, classes, thr).tolist(),
    })
dump("nms.json", {"boxes": tolist(boxes), "scores": tolist(scores), "classes": classes.tolist(), "cases": cases})

# ---- RoIAlign -------------------------------------------------------------------------------
feat = torch.randn(2, 3, 10, 12)
rois = torch.tensor([
    [0, 1.0, 1.0, 9.0, 7.0],
    [1, 0.0, 0.0, 23.0, 19.0],
    [0, 4.5, 3.2, 6.1, 5.0],      # smaller than one bin
    [1, -3.0, -2.0, 5.0, 4.0],    # partly outside the map
    [0, 20.0, 15.0, 30.0, 30.0],  # entirely outside (zeros)
    [1, 7.3, 2.2, 18.9, 16.4],
])
ra_cases = []
for aligned in [False, True]:
    for sampling in [2, -1]:
        for scale in [0.5, 1.0]:
            out = roi_align(feat, rois, output_size=(3, 4), spatial_scale=scale, sampling_ratio=sampling, aligned=aligned)
            ra_cases.append({"aligned": aligned, "sampling_ratio": sampling, "spatial_scale": scale, "output": tolist(out.flatten())})
dump("roi_align.json", {"features": tolist(feat.flatten()), "shape": list(feat.shape), "rois": tolist(rois),
                        "output_size": [3, 4], "cases": ra_cases})

# ---- COCO eval ------------------------------------------------------------------------------
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def coco_case(seed, n_images, n_cats, max_gt, crowd_p, dets_per_gt, extra_fp, scale, many_dets=False):
    rng = random.Random(seed)
    images = [{"id": i + 1, "width": 640, "height": 480, "file_name": f"{i + 1}.jpg"} for i in range(n_images)]
    cats = [{"id": c * 2 + 1, "name": f"c{c}"} for c in range(n_cats)]  # non-contiguous ids
    anns, dts = [], []
    aid = 1
    for img in images:
        for _ in range(rng.randint(0, max_gt)):
            w, h = rng.uniform(4, scale), rng.uniform(4, scale)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            cat = rng.choice(cats)["id"]
            crowd = 1 if rng.random() < crowd_p else 0
            # area differs from w*h as segmentation areas do; COCOeval ranges use this field
            area = w * h * rng.uniform(0.5, 1.0)
            anns.append({"id": aid, "image_id": img["id"], "category_id": cat, "bbox": [x, y, w, h],
                         "area": area, "iscrowd": crowd})
            aid += 1
            for _ in range(rng.randint(0, dets_per_gt)):
                jit = lambda v, s: v + rng.gauss(0, s)  # noqa: E731
                dw, dh = max(1.0, jit(w, w * 0.15)), max(1.0, jit(h, h * 0.15))
                dc = cat if rng.random() < 0.85 else rng.choice(cats)["id"]
                dts.append({"image_id": img["id"], "category_id": dc,
                            "bbox": [jit(x, w * 0.1), jit(y, h * 0.1), dw, dh],
                            "score": round(rng.random(), 3)})  # rounded: ties happen
        for _ in range(rng.randint(0, extra_fp)):
            w, h = rng.uniform(4, scale), rng.uniform(4, scale)
            dts.append({"image_id": img["id"], "category_id": rng.choice(cats)["id"],
                        "bbox": [rng.uniform(0, 600), rng.uniform(0, 440), w, h], "score": round(rng.random(), 3)})
        if many_dets:
            for _ in range(rng.randint(90, 130)):
                w, h = rng.uniform(4, scale), rng.uniform(4, scale)
                dts.append({"image_id": img["id"], "category_id": rng.choice(cats)["id"],
                            "bbox": [rng.uniform(0, 600), rng.uniform(0, 440), w, h], "score": rng.random() * 0.5})
    return {"images": images, "categories": cats, "annotations": anns}, dts


coco_cases = {
    "basic": coco_case(1, 6, 2, 5, 0.0, 2, 2, 120),
    "crowd": coco_case(2, 10, 3, 8, 0.2, 3, 3, 200),
    "small_objects": coco_case(3, 8, 2, 10, 0.1, 2, 4, 40),
    "many_dets": coco_case(4, 3, 3, 12, 0.05, 3, 5, 150, many_dets=True),
    "empty_images": coco_case(5, 12, 4, 2, 0.0, 1, 1, 300),
}
expected = {}
for name, (gt, dt) in coco_cases.items():
    gt_path = os.path.join(OUT, "coco", f"{name}_gt.json")
    dt_path = os.path.join(OUT, "coco", f"{name}_dt.json")
    with open(gt_path, "w") as f:
        json.dump(gt, f)
    with open(dt_path, "w") as f:
        json.dump(dt, f)
    coco_gt = COCO(gt_path)
    coco_dt = coco_gt.loadRes(dt_path)
    ev = COCOeval(coco_gt, coco_dt, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    expected[name] = [float(s) for s in ev.stats]
dump("coco/expected.json", expected)


# ---- VOC AP (py-faster-rcnn voc_eval.py, all-point interpolation, +1 pixel areas) -----------
def voc_ap(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def voc_eval(gts, dets, ovthresh=0.5):
    """gts: {image: [(box, difficult)]}; dets: [(image, score, box)] for one class."""
    npos = sum(1 for g in gts.values() for _, d in g if not d)
    det_flags = {k: [False] * len(v) for k, v in gts.items()}
    order = sorted(range(len(dets)), key=lambda i: -dets[i][1])  # stable, as np.argsort(-conf) is not
    tp = np.zeros(len(dets))
    fp = np.zeros(len(dets))
    for d, i in enumerate(order):
        img, _, bb = dets[i]
        ovmax, jmax = -np.inf, -1
        for j, (g, _) in enumerate(gts.get(img, [])):
            iw = max(min(g[2], bb[2]) - max(g[0], bb[0]) + 1.0, 0.0)
            ih = max(min(g[3], bb[3]) - max(g[1], bb[1]) + 1.0, 0.0)
            inter = iw * ih
            uni = (bb[2] - bb[0] + 1.0) * (bb[3] - bb[1] + 1.0) + (g[2] - g[0] + 1.0) * (g[3] - g[1] + 1.0) - inter
            ov = inter / uni
            if ov > ovmax:
                ovmax, jmax = ov, j
        if ovmax > ovthresh:
            if not gts[img][jmax][1]:
                if not det_flags[img][jmax]:
                    tp[d] = 1.0
                    det_flags[img][jmax] = True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return float(voc_ap(rec, prec))


rng = random.Random(7)
voc_gts, voc_dets = {}, []
for img in range(8):
    lst = []
    for _ in range(rng.randint(0, 4)):
        x, y = rng.uniform(0, 200), rng.uniform(0, 200)
        box = [x, y, x + rng.uniform(10, 60), y + rng.uniform(10, 60)]
        difficult = rng.random() < 0.15
        lst.append((box, difficult))
        for _ in range(rng.randint(0, 2)):
            j = [v + rng.gauss(0, 4) for v in box]
            voc_dets.append((img, round(rng.random(), 4), j))
    voc_gts[img] = lst
    for _ in range(rng.randint(0, 2)):
        x, y = rng.uniform(0, 200), rng.uniform(0, 200)
        voc_dets.append((img, round(rng.random(), 4), [x, y, x + 30, y + 30]))
dump("voc.json", {
    "gts": [{"image": k, "box": b, "difficult": d} for k, v in voc_gts.items() for b, d in v],
    "dets": [{"image": i, "score": s, "box": b} for i, s, b in voc_dets],
    "ap50": voc_eval(voc_gts, voc_dets),
})
