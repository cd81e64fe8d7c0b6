-- Every cell of the 5 × 5 R × F grid is covered by exactly one row of seed rfm_segment_map.
-- Rows returned = cells with no segment or with more than one.

with

rfm_segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

cells as (

    select
        r_scores.r_score,
        f_scores.f_score
    from range(1, 6) as r_scores (r_score)
    cross join range(1, 6) as f_scores (f_score)

),

final as (

    select
        cells.r_score,
        cells.f_score,
        count(rfm_segment_map.rfm_segment) as segments,
        string_agg(rfm_segment_map.rfm_segment, ', ') as segment_names
    from cells
    left join rfm_segment_map
        on
            cells.r_score between rfm_segment_map.r_score_min and rfm_segment_map.r_score_max
            and cells.f_score between rfm_segment_map.f_score_min and rfm_segment_map.f_score_max
    group by cells.r_score, cells.f_score
    having count(rfm_segment_map.rfm_segment) <> 1

)

select * from final
