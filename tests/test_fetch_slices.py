"""Created-range slicing: the ranges tile the remaining time exactly, sized by observed density."""

from stripe_source.fetch import MAX_SLICES, PAGE_SIZE, PAGES_PER_SLICE, ModelLister


def test_slices_cover_the_range_below_the_first_page_without_gaps_or_overlap():
    slices = ModelLister._slices(1_000, 50_000, 50_500, 100)
    assert slices[0][0] == 1_000 and slices[-1][1] == 50_000
    for (_, end), (start, _) in zip(slices, slices[1:], strict=False):
        assert end == start


def test_denser_data_gets_more_slices_up_to_the_cap():
    sparse = ModelLister._slices(0, 100_000, 200_000, 100)
    dense = ModelLister._slices(0, 100_000, 100_100, 100)
    assert len(sparse) < len(dense) <= MAX_SLICES


def test_the_slice_count_follows_the_expected_pages():
    # 100 objects over 1,000 s above, 100,000 s below: about 10,000 objects, 100 pages.
    slices = ModelLister._slices(0, 100_000, 101_000, 100)
    expected_pages = 100 * 100_000 / 1_000 / PAGE_SIZE
    assert len(slices) == -(-int(expected_pages) // PAGES_PER_SLICE)
