//! Small fixtures shared by the unit tests.

use crate::data::{
    Interaction, Interactions, RatingScale, RatingsDataset, SyntheticConfig, generate,
};

/// Four users, five items, ten hand-written ratings.
///
/// ```text
///        i0  i1  i2  i3  i4
/// u0      5   4   .   .   .
/// u1      4   .   2   .   1
/// u2      .   5   4   .   .
/// u3      1   2   .   5   .
/// ```
pub fn tiny() -> Interactions {
    let rows = [
        (0, 0, 5.0),
        (0, 1, 4.0),
        (1, 0, 4.0),
        (1, 2, 2.0),
        (1, 4, 1.0),
        (2, 1, 5.0),
        (2, 2, 4.0),
        (3, 0, 1.0),
        (3, 1, 2.0),
        (3, 3, 5.0),
    ];
    Interactions {
        n_users: 4,
        n_items: 5,
        data: rows
            .iter()
            .enumerate()
            .map(|(t, &(user, item, rating))| Interaction {
                user,
                item,
                rating,
                timestamp: t as i64,
            })
            .collect(),
        scale: RatingScale::STARS,
    }
}

/// A small latent-factor data set (150 users, 120 items).
pub fn synthetic() -> RatingsDataset {
    generate(&SyntheticConfig {
        n_users: 150,
        n_items: 120,
        ratings_per_user: 30,
        ..Default::default()
    })
    .unwrap()
}
